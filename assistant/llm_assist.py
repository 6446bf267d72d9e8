"""What the local LLM may add to the rules' filter: answers to narrow questions the rules left open.

The deterministic parser carries accuracy; the small LLM invents colours and
genders when asked open questions (``../shared/models/README.md``). So it is
asked only where the *words of the request* offer a value the rules did not
use — an attribute word (from the project's vocabulary files) whose key the
rules left empty — and each question is an enum of exactly those evidenced
values plus ``"none"``. The grammar makes any other answer
impossible; the answer is checked again and validated as a :class:`Filter`.
Cameras, places and time never come from the LLM. When the rules left
nothing open, the LLM is not called at all.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from assistant.config import PROJECT_ROOT
from assistant.filters import ATTRIBUTE_KEYS, FLAG_KEYS, Filter, FilterError
from assistant.lexicon import Lexicon, Scanner, lang_data
from assistant.llm import LLMOutputError, LocalLLM

PROMPTS_DIR = PROJECT_ROOT / "prompts"
NONE = "none"
COLOUR_KEYS = ("upper_color", "lower_color")
QUESTION_KEYS = tuple(k for k in ATTRIBUTE_KEYS if k not in COLOUR_KEYS)
"""Attribute keys the LLM may be asked about."""
MAX_QUESTIONS = 2
"""Questions per request at most (in attribute order): each costs ~10 generated tokens, ~0.3–0.5 s on 2 cores."""
TOKENS_PER_QUESTION = 10
"""Generated tokens per question (``"upper_color": "green", `` is about 8), which bounds latency."""

Question = dict[str, list[Any]]
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def system_prompt() -> str:
    """The instructions of ``prompts/assist.md``."""
    return (PROMPTS_DIR / "assist.md").read_text(encoding="utf-8").strip()


@lru_cache(maxsize=1)
def fewshot() -> tuple[dict[str, Any], ...]:
    """Worked examples of ``prompts/assist_fewshot.jsonl``: request, questions, answer."""
    lines = (PROMPTS_DIR / "assist_fewshot.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


SECTION_KEYS = {"upper": "upper_garment", "lower": "lower_garment", "hair": "hair", "sleeve": "sleeve",
                "vehicle": "vehicle"}
"""Sections of ``assistant/lang/<lang>/attributes.toml`` whose entries are ``value = [phrases]`` of one key."""


def _vocabulary_entries(data: dict[str, Any]) -> list[tuple[str, tuple[str, Any]]]:
    """``(phrase, (key, value))`` from one language's attribute vocabulary (the rules' data file)."""
    entries: list[tuple[str, tuple[str, Any]]] = []
    for section, key in SECTION_KEYS.items():
        for value, phrases in data.get(section, {}).items():
            if value:  # "" marks a word with no value of its own ("top", "上衣")
                entries += [(p, (key, value)) for p in phrases]
    for flag, phrases in data.get("flags", {}).items():
        entries += [(p, (flag, True)) for p in phrases]
    for phrase, sets in data.get("people", {}).items():
        entries += [(phrase, (key, value)) for key, value in sets.items()]
    return [(p, kv) for p, kv in entries if kv[0] in QUESTION_KEYS]


@lru_cache(maxsize=1)
def evidence_lexicon() -> Lexicon:
    """Every non-colour attribute word the project knows, mapped to the ``(key, value)`` pairs it supports.

    Place words are in it too, supporting nothing, so that the longest match makes "car park" a place.
    """
    supports: dict[str, list[tuple[str, Any]]] = {}
    for data in lang_data("places").values():  # "car park" names a place, not a car
        for phrase in _place_words(data):
            supports.setdefault(phrase.strip().lower(), [])
    for data in lang_data("attributes").values():
        for phrase, pair in _vocabulary_entries(data):
            supports.setdefault(phrase.strip().lower(), []).append(pair)
    return Lexicon((phrase, tuple(pairs)) for phrase, pairs in supports.items())


def _place_words(data: dict[str, Any]) -> list[str]:
    """Place-kind words and place nouns of one language's place vocabulary."""
    words = [w for phrases in data.get("kinds", {}).values() for w in phrases]
    return words + list(data.get("unknown", {}).get("place_nouns", []))


def evidence(message: str) -> dict[str, set[Any]]:
    """The attribute values the words of ``message`` can support, by key."""
    found: dict[str, set[Any]] = {}
    for hit in Scanner(message).find(evidence_lexicon()):
        for key, value in hit.value:
            found.setdefault(key, set()).add(value)
    return found


def open_questions(message: str, draft: Filter) -> dict[str, Question]:
    """Questions the rules left open: keys without a value whose answer the message's words offer.

    A flag word ("mask", "口罩") may mean wearing it or explicitly not; another key may take any of
    its evidenced values. At most :data:`MAX_QUESTIONS`, which bounds the latency. Colours are never
    asked: on the development set the 270M model put every loose colour (a helmet's, a hat's) on the
    trousers (bench/RESULTS.md, "Parsing").
    """
    said = evidence(message)
    current = draft.attributes.constrained()
    questions: dict[str, Question] = {}
    for key in QUESTION_KEYS:
        if key in current or key not in said:
            continue
        values = [True, False] if key in FLAG_KEYS else sorted(said[key])
        questions[key] = [*values, NONE]
    return dict(list(questions.items())[:MAX_QUESTIONS])


def question_schema(questions: dict[str, Question]) -> dict[str, Any]:
    """A JSON schema allowing exactly one of the offered answers per question."""
    return {
        "type": "object",
        "properties": {key: {"enum": options} for key, options in questions.items()},
        "required": list(questions),
        "additionalProperties": False,
    }


def _user_turn(request: str, questions: dict[str, Question]) -> str:
    text = request.replace("<", " ").replace(">", " ")
    return f"<request>{text}</request>\nquestions: {json.dumps(questions, ensure_ascii=False)}"


def prompt(message: str, questions: dict[str, Question]) -> list[dict[str, str]]:
    """Chat messages: instructions, the worked examples, then the request as delimited data."""
    messages = [{"role": "system", "content": system_prompt()}]
    for example in fewshot():
        messages.append({"role": "user", "content": _user_turn(example["request"], example["questions"])})
        messages.append({"role": "assistant", "content": json.dumps(example["answer"], ensure_ascii=False)})
    messages.append({"role": "user", "content": _user_turn(message, questions)})
    return messages


def accepted(answer: dict[str, Any], questions: dict[str, Question]) -> dict[str, Any]:
    """The answers that are one of the offered values and not "none", as attribute values."""
    values: dict[str, Any] = {}
    for key, options in questions.items():
        value = answer.get(key, NONE)
        if value == NONE or not any(value is o or (type(value) is type(o) and value == o) for o in options):
            continue
        values[key] = value
    return values


def warm_up(llm: LocalLLM) -> None:
    """Load the model and evaluate the fixed prompt prefix once, so the first request does not pay for it."""
    example = fewshot()[0]
    try:
        llm.complete_json(prompt(example["request"], example["questions"]), question_schema(example["questions"]), 24)
    except LLMOutputError as err:  # the answer does not matter here, only the evaluated prefix
        log.warning("LLM warm-up answer was not JSON: %s", err)


def assist(message: str, draft: Filter, llm: LocalLLM) -> tuple[Filter, list[str]]:
    """Let the LLM answer what the rules left open in ``draft``; returns the filter and notes.

    The LLM never changes a value the rules set and never adds a value the request's words do not
    support. Without open questions the LLM is not called. Raises ``LLMUnavailable`` when the model
    cannot be loaded.
    """
    questions = open_questions(message, draft)
    if not questions:
        return draft, []
    try:
        answer = llm.complete_json(
            prompt(message, questions), question_schema(questions), TOKENS_PER_QUESTION * len(questions) + 8
        )
    except LLMOutputError as err:
        log.warning("LLM answer ignored for %r: %s", message, err)
        return draft, []
    additions = accepted(answer, questions)
    if not additions:
        return draft, []
    merged = draft.model_dump()
    merged["attributes"] = {**draft.attributes.constrained(), **additions}
    try:
        result = Filter.from_data(merged)
    except FilterError as err:
        log.warning("LLM answer ignored for %r: %s", message, err)
        return draft, []
    added = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in additions.items())
    return result, [f"language model added: {added}"]
