"""LangChain wiring: parsing and search as tools, and one conversation turn as a runnable.

The app runs :func:`build_conversation` for every message: message + current
filter (+ ``now``) → parse (rules, optionally the local LLM) → search the store
→ answer text. The same steps are exposed as LangChain tools
(:func:`parse_tool`, :func:`search_tool`) for an agent or a notebook.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from assistant.filters import Filter, summarize
from assistant.lexicon import lang_data
from assistant.registry import Registry

SearchFn = Callable[..., Any]
"""``search(filter, text=None, image=None, k=...)`` → a result with ``hits`` and ``notes``, as
``store.search.search`` returns."""

ParseFn = Callable[..., Any]
"""``parse(message, current, now, registry, llm=None)`` → result with ``filter``, ``notes``, ``intent``, ``lang``."""

DEFAULT_K = 24


@dataclass(frozen=True)
class Turn:
    """One officer message and the conversation state it applies to."""

    message: str
    current: Filter | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced: the new filter, parser and search notes, the hits and the answer."""

    filter: Filter
    notes: list[str]
    intent: Any
    lang: str
    hits: list[Any] = field(default_factory=list)
    search_notes: list[str] = field(default_factory=list)
    answer: str = ""


def _real_parse() -> ParseFn:
    from assistant.parser import parse

    return parse


def _real_search() -> SearchFn:
    from store.search import search

    return search


def _clock(registry: Registry) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(registry.timezone))


def answer_text(result: TurnResult, registry: Registry, now: datetime | None = None) -> str:
    """The assistant's reply: what it searched for, any parser notes, and how many images matched."""
    messages = lang_data("ui")[result.lang]["messages"]
    lines = [messages["understood"].format(summary=summarize(result.filter, result.lang, registry, now))]
    lines += result.notes + result.search_notes
    n = len(result.hits)
    lines.append(messages["found"].format(n=n) if n else messages["found_none"])
    return "\n".join(lines)


def build_conversation(
    registry: Registry,
    llm: object | None = None,
    search: SearchFn | None = None,
    parse: ParseFn | None = None,
    k: int = DEFAULT_K,
) -> Runnable[Turn, TurnResult]:
    """The runnable for one turn: ``Turn`` → parse → search → answer → ``TurnResult``.

    ``search`` defaults to ``store.search.search`` and ``parse`` to ``assistant.parser.parse``
    (both imported on first use); ``llm`` is handed to the parser.
    """

    def parse_step(turn: Turn) -> tuple[Turn, TurnResult]:
        now = turn.now or _clock(registry)
        parsed = (parse or _real_parse())(turn.message, turn.current, now, registry, llm=llm)
        result = TurnResult(parsed.filter, list(parsed.notes), parsed.intent, parsed.lang)
        return dataclasses.replace(turn, now=now), result

    def search_step(state: tuple[Turn, TurnResult]) -> tuple[Turn, TurnResult]:
        turn, result = state
        found = (search or _real_search())(result.filter, k=k)
        return turn, dataclasses.replace(result, hits=list(found.hits), search_notes=list(found.notes))

    def answer_step(state: tuple[Turn, TurnResult]) -> TurnResult:
        turn, result = state
        return dataclasses.replace(result, answer=answer_text(result, registry, turn.now))

    chain = RunnableLambda(parse_step, name="parse") | RunnableLambda(search_step, name="search")
    return (chain | RunnableLambda(answer_step, name="answer")).with_config(run_name="sightline_turn")


class ParseArgs(BaseModel):
    """Arguments of the ``parse_request`` tool."""

    message: str = Field(description="The officer's request, in Chinese or English.")
    current: dict[str, Any] | None = Field(None, description="The current filter (JSON) a follow-up edits.")
    now: str | None = Field(None, description="Reference instant, ISO 8601 with offset; default: now.")


def parse_tool(registry: Registry, llm: object | None = None, parse: ParseFn | None = None) -> StructuredTool:
    """A tool turning a request (and the current filter) into the search filter JSON plus parser notes."""

    def parse_request(message: str, current: dict[str, Any] | None = None, now: str | None = None) -> dict:
        moment = datetime.fromisoformat(now) if now else _clock(registry)
        before = Filter.from_data(current, registry) if current is not None else None
        parsed = (parse or _real_parse())(message, before, moment, registry, llm=llm)
        return {"filter": parsed.filter.to_dict(), "notes": list(parsed.notes)}

    return StructuredTool.from_function(
        parse_request,
        name="parse_request",
        description="Turn an officer's footage-search request into a structured filter (time, cameras, "
        "person attributes); pass the current filter to apply a follow-up edit.",
        args_schema=ParseArgs,
    )


class SearchArgs(BaseModel):
    """Arguments of the ``search_footage`` tool."""

    filter: dict[str, Any] = Field(description="A search filter as produced by parse_request.")
    k: int = Field(DEFAULT_K, ge=1, le=200, description="How many images to return at most.")


def _plain(hit: Any) -> Any:
    if isinstance(hit, BaseModel):
        return hit.model_dump(mode="json")
    if dataclasses.is_dataclass(hit) and not isinstance(hit, type):
        return dataclasses.asdict(hit)
    return hit


def search_tool(registry: Registry, search: SearchFn | None = None) -> StructuredTool:
    """A tool searching the footage index with a filter; returns the hits and notes as plain data."""

    def search_footage(filter: dict[str, Any], k: int = DEFAULT_K) -> dict[str, Any]:
        found = (search or _real_search())(Filter.from_data(filter, registry), k=k)
        return {"hits": [_plain(hit) for hit in found.hits], "notes": list(found.notes)}

    return StructuredTool.from_function(
        search_footage,
        name="search_footage",
        description="Search indexed camera footage for people matching a filter; best matches first.",
        args_schema=SearchArgs,
    )
