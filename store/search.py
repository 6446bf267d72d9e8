"""Search the footage store with a :class:`~assistant.filters.Filter`.

How each part of the filter is applied:

- time window and cameras: hard ``where`` filters (``ts`` in ``[start, end)``, ``camera_id $in``).
- upper/lower colours: hard filters too, but lenient — a crop matches when the
  requested colour is *any* of its region colours (primary or secondary), and
  crops whose primary colour matches rank higher. Region colours are measured
  on every crop, so the constraint is always applicable and its effect can be
  explained; CLIP cannot bind colours to body parts.
- description (or ``text``): CLIP text embedding when CLIP weights are
  configured; otherwise a note says it was not used.
- every other attribute (gender, glasses, mask, garments…): re-ranking by the
  crop's zero-shot CLIP probability. These scores are soft and often wrong on
  small crops, so they reorder rather than exclude; without CLIP weights they
  cannot be applied and a note says so.

When nothing matches, the notes name the constraint that emptied the result
(re-counting without each hard constraint in turn).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from assistant.config import get_settings
from assistant.filters import COLOURS, Filter, describe_time
from assistant.lexicon import note
from store.db import COLOUR_FIELDS, HARD_CONSTRAINTS, Record, Store, open_store, where_from_filter
from store.embed import attribute_prompts

ATTRIBUTE_WEIGHT = 0.2  # score added per attribute at probability 1 (minus chance level)
PRIMARY_BONUS = 0.05  # score added when a requested colour is the crop's primary colour
SCAN_LIMIT = 5000  # crops ranked without a query vector (metadata-only search)
RERANK_POOL = 4  # candidates fetched per requested hit when attributes re-rank


class SearchError(LookupError):
    """A search cannot run (e.g. an unknown crop id for ``similar``)."""


@dataclass(frozen=True)
class Hit:
    """One crop found: where to show it, when and where it was seen, and why it matched."""

    id: str
    thumbnail: str
    camera_id: str
    time: datetime
    score: float
    why: list[str]
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits and notes (constraints not applied; why the result is empty)."""

    hits: list[Hit]
    notes: list[str]


_default: Store | None = None
_default_lock = threading.Lock()


def default_store() -> Store:
    """The store of the process settings, opened once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = open_store(get_settings())
        return _default


def search(
    filter: Filter,
    text: str | None = None,
    image: np.ndarray | None = None,
    k: int = 50,
    *,
    store: Store | None = None,
    lang: str = "en",
) -> SearchResult:
    """Crops matching ``filter``, ranked by ``image`` (BGR) or ``text``/the filter's description.

    Notes for the officer are in ``lang`` (``assistant/lang/<lang>/notes.toml``).
    """
    store = store or default_store()
    notes: list[str] = []
    vector: np.ndarray | None = None
    description = text or filter.description
    if image is not None:
        vector = store.embedder.embed_images([image])[0]
    elif description:
        vector = store.embedder.embed_text(description)
        if vector is None:
            notes.append(note(lang, "description_unused", description=description))
    return _run(store, filter, vector, k, notes, exclude=None, lang=lang)


def similar(
    hit_id: str, filter: Filter | None = None, k: int = 50, *, store: Store | None = None, lang: str = "en"
) -> SearchResult:
    """Crops that look like crop ``hit_id`` (image → image), within ``filter`` or everywhere."""
    store = store or default_store()
    found = store.get(ids=[hit_id], vectors=True)
    if not found or found[0].vector is None:
        raise SearchError(f"no stored crop with id {hit_id!r}; take the id from a search hit")
    return _run(store, filter or Filter(), found[0].vector, k, [], exclude=hit_id, lang=lang)


def _run(
    store: Store, current: Filter, vector: np.ndarray | None, k: int, notes: list[str], exclude: str | None, lang: str
) -> SearchResult:
    where = where_from_filter(current)
    soft = _soft_attributes(current)
    if vector is not None:
        pool = k * (RERANK_POOL if soft else 1) + (1 if exclude else 0)
        records = store.query(vector, where, pool)
    else:
        records = store.get(where, limit=SCAN_LIMIT)
        if len(records) == SCAN_LIMIT:
            notes.append(note(lang, "scan_limit", limit=SCAN_LIMIT))
    ranked = [_hit(r, current, soft) for r in records if r.id != exclude]
    unjudged = sum(1 for _, judged in ranked if not judged)
    if soft and unjudged:
        keys = ", ".join(key for key, _ in soft)
        if unjudged == len(ranked):
            notes.append(note(lang, "not_applied", keys=keys))
        else:
            notes.append(note(lang, "not_applied_some", keys=keys, unjudged=unjudged, total=len(ranked)))
    hits = sorted((h for h, _ in ranked), key=lambda h: (-h.score, h.time))[:k]
    if not hits:
        notes += explain_empty(store, current, lang)
    return SearchResult(hits, notes)


def _soft_attributes(current: Filter) -> list[tuple[str, str]]:
    """Constrained attributes applied by re-ranking, as (key, value) with flags as "true"/"false"."""
    pairs = []
    for key, value in current.attributes.constrained().items():
        if key in COLOUR_FIELDS:
            continue
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


def _hit(record: Record, current: Filter, soft: list[tuple[str, str]]) -> tuple[Hit, bool]:
    """The hit and whether its crop had attribute scores to re-rank by."""
    meta = record.metadata
    score = 1.0 - record.distance if record.distance is not None else 0.0
    why: list[str] = []
    if current.time is not None:
        why.append("time")
    if current.cameras:
        why.append(f"camera {meta.get('camera_id')}")
    for key, field_name in COLOUR_FIELDS.items():
        wanted = getattr(current.attributes, key) or []
        have = list(meta.get(field_name) or [])
        for colour in (c for c in wanted if c in have):
            primary = have[0] == colour
            score += PRIMARY_BONUS if primary else 0.0
            why.append(f"{key} {colour} ({'main' if primary else 'secondary'} colour)")
    judged = "attributes" in (meta.get("judged") or [])
    prompts = attribute_prompts()
    for key, value in soft if judged else []:
        probability = float(meta.get(f"p:{key}={value}", 0.0))
        chance = 1.0 / max(1, len(prompts.get(key, {})))
        score += ATTRIBUTE_WEIGHT * (probability - chance)
        if probability > chance:
            why.append(f"{key}={value} ({probability:.0%})")
    if record.distance is not None:
        why.append(f"similarity {1.0 - record.distance:.2f}")
    hit = Hit(
        id=record.id,
        thumbnail=str(meta.get("thumbnail", "")),
        camera_id=str(meta.get("camera_id", "")),
        time=datetime.fromisoformat(str(meta["time"])),
        score=round(score, 4),
        why=why,
        metadata=meta,
    )
    return hit, judged


def explain_empty(store: Store, current: Filter, lang: str = "en") -> list[str]:
    """Why a search found nothing: the store is empty, or which constraint removes every crop."""
    total = store.count()
    if total == 0:
        return [note(lang, "store_empty")]
    active = [c for c in HARD_CONSTRAINTS if _is_set(current, c)]
    notes = []
    for constraint in active:
        without = store.count(where_from_filter(current, without=[constraint]))
        if without:
            notes.append(note(lang, "empty_without", label=_label(current, constraint, lang), n=without))
    if not notes:
        notes.append(note(lang, "empty_even_without", total=total))
    return notes


def _is_set(current: Filter, constraint: str) -> bool:
    if constraint == "time":
        return current.time is not None
    if constraint == "cameras":
        return bool(current.cameras)
    return bool(getattr(current.attributes, constraint))


def _label(current: Filter, constraint: str, lang: str) -> str:
    if constraint == "time":
        return note(lang, "label_time", time=describe_time(current.time, lang))
    if constraint == "cameras":
        return note(lang, "label_cameras", cameras=", ".join(current.cameras))
    colours = [c for c in getattr(current.attributes, constraint) if c in COLOURS]
    return note(lang, f"label_{constraint}", colours=", ".join(colours))
