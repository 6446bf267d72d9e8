"""The conversation runnable and the LangChain tools (assistant.chain), with the real rules parser.

The store is replaced by a small in-memory search that records the filter it was given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from assistant.chain import Turn, build_conversation, parse_tool, search_tool
from assistant.filters import Filter
from assistant.lexicon import lang_data
from store.search import Hit, SearchResult

NOW = datetime.fromisoformat("2021-09-08T10:30:00+08:00")


class RecordingSearch:
    """A footage index of ``n`` fake hits that remembers every query."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls: list[tuple[Filter, int]] = []

    def __call__(self, filter: Filter, text: str | None = None, image: Any = None, k: int = 10) -> SearchResult:
        self.calls.append((filter, k))
        camera = (filter.cameras or ["?"])[0]
        hits = [Hit(f"hit{i}", f"/thumbs/{i}.jpg", camera, NOW, 1.0 - i / 10, ["time"]) for i in range(min(self.n, k))]
        return SearchResult(hits, ["mask not applied: needs CLIP weights"] if not hits else [])


def test_turn_parses_searches_with_that_filter_and_answers(registry) -> None:
    search = RecordingSearch(3)
    chain = build_conversation(registry, search=search, k=5)
    assert isinstance(chain, Runnable)
    result = chain.invoke(Turn("man in a red jacket near Nanshan north gate yesterday after 8pm", now=NOW))
    assert result.filter.cameras == ["NS-GATE-N"]
    assert search.calls == [(result.filter, 5)]
    assert len(result.hits) == 3
    messages = lang_data("ui")["en"]["messages"]
    assert messages["found"].format(n=3) in result.answer
    assert result.lang == "en"


def test_follow_up_edits_the_current_filter(registry) -> None:
    chain = build_conversation(registry, search=RecordingSearch(0))
    first = chain.invoke(Turn("man in a red jacket near Nanshan north gate yesterday after 8pm", now=NOW))
    second = chain.invoke(Turn("only the ones without a mask", current=first.filter, now=NOW))
    assert second.filter.attributes.mask is False
    assert second.filter.cameras == first.filter.cameras and second.filter.time == first.filter.time
    assert lang_data("ui")["en"]["messages"]["found_none"] in second.answer
    assert "mask not applied: needs CLIP weights" in second.answer  # the store's notes reach the officer


def test_chinese_message_gets_a_chinese_answer(registry) -> None:
    result = build_conversation(registry, search=RecordingSearch(1)).invoke(
        Turn("昨天下午在南山社区东门骑电动车的男子", now=NOW)
    )
    assert result.lang == "zh"
    assert lang_data("ui")["zh"]["messages"]["found"].format(n=1) in result.answer


def test_parse_and_search_tools_round_trip(registry) -> None:
    search = RecordingSearch(2)
    parse_request, search_footage = parse_tool(registry), search_tool(registry, search=search)
    assert isinstance(parse_request, BaseTool) and isinstance(search_footage, BaseTool)
    assert set(parse_request.args) == {"message", "current", "now"}
    parsed = parse_request.invoke(
        {"message": "woman with an umbrella at Taidong pedestrian street", "now": NOW.isoformat()}
    )
    assert parsed["filter"]["attributes"]["umbrella"] is True
    found = search_footage.invoke({"filter": parsed["filter"], "k": 1})
    assert [hit["id"] for hit in found["hits"]] == ["hit0"] and found["notes"] == []
    assert search.calls[0][0] == Filter.from_data(parsed["filter"]) and search.calls[0][1] == 1
