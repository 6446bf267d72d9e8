"""Understand a request: message (+ current filter) → :class:`Filter` and notes for the officer.

The rules carry the parse: :func:`assistant.timeparse.parse_time` reads the
time, :func:`assistant.places.ground` the place, :func:`assistant.attributes.extract`
the person. With a current filter the message edits it field by field
(``query-schema.md``, "Follow-up refinement"); "new search"/"重新查" starts
from scratch. An optional local LLM may then fill what the rules left open
(:func:`assistant.llm_assist.assist`). Bad input (empty, unreadable, very
long) gives a note and leaves the filter as it was; message text is data and
can never widen the cameras beyond what its place words match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal

from assistant.attributes import describe, extract
from assistant.filters import (
    Filter,
    add_cameras,
    narrow_cameras,
    remove_attributes,
    set_attributes,
    set_cameras,
    set_description,
    set_time,
)
from assistant.lexicon import DEFAULT_LANG, Lexicon, Scanner, is_cjk, lang_data, note
from assistant.places import PlaceMatch, ground
from assistant.registry import Registry
from assistant.timeparse import parse_time

MAX_CHARS = 1000
"""Only this many characters of a message are read (longer ones get a note)."""
PUNCTUATION = re.compile(r"[,.;:!?，。；：！？、]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\ufeff]")

Intent = Literal["new", "refine", "reset"]
CameraOp = Literal["add", "narrow", "replace"]


@dataclass(frozen=True)
class ParseResult:
    """The filter after this message, what the officer should be told, and what kind of turn it was."""

    filter: Filter
    notes: list[str] = field(default_factory=list)
    intent: Intent = "new"
    lang: str = DEFAULT_LANG


@dataclass(frozen=True)
class _Cues:
    reset: Lexicon
    replaced: Lexicon
    cameras: Lexicon  # value: CameraOp


@lru_cache(maxsize=1)
def _cues() -> _Cues:
    reset: list[tuple[str, str]] = []
    replaced: list[tuple[str, str]] = []
    cameras: list[tuple[str, str]] = []
    for data in lang_data("followups").values():
        reset += [(w, "reset") for w in data.get("reset", [])]
        replaced += [(w, "replaced") for w in data.get("replaced", [])]
        cameras += [(w, op) for op, words in data.get("cameras", {}).items() for w in words]
    return _Cues(Lexicon(reset), Lexicon(replaced), Lexicon(cameras))


def detect_lang(text: str) -> str:
    """"zh" when Chinese characters are at least as many as Latin words, else "en"."""
    han = sum(1 for c in text if is_cjk(c))
    latin = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if han and han >= latin else "en"


def parse(
    message: str, current: Filter | None, now: datetime, registry: Registry, llm: object | None = None
) -> ParseResult:
    """Parse one officer message at reference instant ``now`` (tz-aware).

    ``current`` is the filter before this message (``None`` for a new
    conversation); ``llm`` an optional local model passed to
    :func:`assistant.llm_assist.assist`.
    """
    text = CONTROL.sub(" ", message) if isinstance(message, str) else ""
    lang = detect_lang(text)
    unchanged = current or Filter()
    intent: Intent = "refine" if current is not None else "new"
    if not text.strip():
        return ParseResult(unchanged, [note(lang, "empty")], intent, lang)
    if not any(c.isalnum() for c in text):
        return ParseResult(unchanged, [note(lang, "unreadable")], intent, lang)
    notes: list[str] = []
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        notes.append(note(lang, "truncated", limit=MAX_CHARS))

    cues = _cues()
    reset_hits = Scanner(text).find(cues.reset)
    if reset_hits:
        current, intent = None, "reset"
    skip = [(h.start, h.end) for h in reset_hits] + _replaced_spans(text)
    anchor = current.time.start.date() if current is not None and current.time is not None else None
    when = parse_time(_blank(text, skip), now, anchor)
    skip += when.spans
    place = ground(text, registry, within=current.cameras if current is not None else (), skip=skip)
    who = extract(text, [*skip, *place.spans])

    result = current or Filter()
    if when.clear:
        result = set_time(result, None)
    elif when.window is not None:
        result = set_time(result, when.window)
    notes += [note(lang, "time_unresolved", phrase=p) for p in when.unresolved]
    result, place_notes = _apply_place(result, current, place, _camera_op(text, skip))
    notes += [note(lang, key, place=place.unresolved) for key in place_notes]
    if who.removed:
        result = remove_attributes(result, *who.removed)
    if who.values:
        result = set_attributes(result, **who.values)
    understood = when.window or when.clear or place.place_text or who.values or who.removed or reset_hits
    if not understood:
        return ParseResult(unchanged, [*notes, note(lang, "nothing_understood")], intent, lang)

    result = set_description(result, describe(result.attributes.constrained()))
    if llm is not None:
        result, llm_notes = _assist(_blank(text, who.removed_spans), result, llm, who.removed)
        notes += llm_notes
    return ParseResult(result, notes, intent, lang)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with these spans blanked out (offsets kept)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _replaced_spans(text: str) -> list[tuple[int, int]]:
    """Old values the officer names only to replace them ("instead of the afternoon"), to the next punctuation."""
    spans = []
    for hit in Scanner(text).find(_cues().replaced):
        stop = PUNCTUATION.search(text, hit.end)
        spans.append((hit.start, stop.start() if stop else len(text)))
    return spans


def _camera_op(text: str, skip: list[tuple[int, int]]) -> CameraOp:
    """What a follow-up's place phrase does: add ("as well"), narrow ("only"), else replace."""
    ops = {h.value for h in Scanner(text, skip).find(_cues().cameras)}
    for op in ("add", "narrow"):
        if op in ops:
            return op  # type: ignore[return-value]
    return "replace"


def _apply_place(result: Filter, current: Filter | None, place: PlaceMatch, op: CameraOp) -> tuple[Filter, list[str]]:
    """The cameras after this message, and which note keys (if any) to give."""
    if place.unresolved is not None:
        if current is not None and current.cameras:
            return result, ["place_kept"]
        return set_cameras(result, [], place.place_text), ["place_not_found"]
    if not place.cameras:
        return result, []
    if current is None:
        return set_cameras(result, place.cameras, place.place_text), []
    edit = {"add": add_cameras, "narrow": narrow_cameras, "replace": set_cameras}[op]
    return edit(result, place.cameras, place.place_text), []


def _assist(text: str, draft: Filter, llm: object, removed: list[str]) -> tuple[Filter, list[str]]:
    """Let the LLM fill what the rules left open, never re-adding what the officer removed or
    touching cameras and time; keep the rules' description unless it wrote one."""
    from assistant.llm_assist import assist

    helped, notes = assist(text, draft, llm)  # type: ignore[arg-type]
    helped = remove_attributes(helped, *removed)
    helped = set_cameras(set_time(helped, draft.time), draft.cameras, draft.place_text)
    if helped.attributes != draft.attributes and helped.description == draft.description:
        helped = set_description(helped, describe(helped.attributes.constrained()))
    return helped, notes
