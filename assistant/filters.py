"""The search filter of ``query-schema.md``: one model for parser, store, UI and evaluation.

A :class:`Filter` holds a half-open time window, sorted camera ids, the place
phrase, closed-vocabulary person attributes and an English description. This
module validates it, (de)serialises it, derives the JSON schema that constrains
the LLM, summarises it for officers in English or Chinese, and provides the
follow-up edits (set/remove attributes, replace/add/narrow cameras, replace
time, reset) as pure functions.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, field_serializer, field_validator, model_validator

from assistant.registry import Registry

Colour = Literal["black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"]
Gender = Literal["male", "female"]
Age = Literal["child", "adult", "elderly"]
Hair = Literal["short", "medium", "long", "bald"]
UpperGarment = Literal["t-shirt", "shirt", "jacket", "coat", "sweater", "dress", "vest", "uniform"]
LowerGarment = Literal["trousers", "jeans", "shorts", "skirt"]
Sleeve = Literal["short", "long"]
Vehicle = Literal["bicycle", "e-bike", "motorcycle", "car"]

COLOURS: tuple[str, ...] = get_args(Colour)
FLAG_KEYS = ("glasses", "mask", "hat", "helmet", "backpack", "handbag", "umbrella", "phone")
LANG_DIR = Path(__file__).resolve().parent / "lang"


class FilterError(ValueError):
    """A filter (or an edit of one) is invalid; the message says what and how to fix it."""


class Attributes(BaseModel):
    """Person attributes the officer constrained; ``None`` means unconstrained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gender: Gender | None = None
    age: Age | None = None
    hair: Hair | None = None
    upper_color: list[Colour] | None = None
    lower_color: list[Colour] | None = None
    upper_garment: UpperGarment | None = None
    lower_garment: LowerGarment | None = None
    sleeve: Sleeve | None = None
    glasses: bool | None = None
    mask: bool | None = None
    hat: bool | None = None
    helmet: bool | None = None
    backpack: bool | None = None
    handbag: bool | None = None
    umbrella: bool | None = None
    phone: bool | None = None
    vehicle: Vehicle | None = None

    @field_validator("upper_color", "lower_color")
    @classmethod
    def _dedupe_colours(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unique = list(dict.fromkeys(value))
        return unique or None

    def constrained(self) -> dict[str, Any]:
        """Only the attributes that are set, as plain JSON values."""
        return self.model_dump(mode="json", exclude_none=True)


ATTRIBUTE_KEYS: tuple[str, ...] = tuple(Attributes.model_fields)


class TimeWindow(BaseModel):
    """Half-open window ``[start, end)`` with timezone offsets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _check(self) -> TimeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time window ends need a UTC offset, e.g. 2021-09-07T06:00:00+08:00")
        if self.end <= self.start:
            raise ValueError(f"time window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")
        return self

    @field_serializer("start", "end")
    def _iso(self, value: datetime) -> str:
        return value.isoformat(timespec="seconds")


class Filter(BaseModel):
    """One search request: when, where, who (see ``query-schema.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: TimeWindow | None = None
    cameras: list[str] = []
    place_text: str | None = None
    attributes: Attributes = Attributes()
    description: str | None = None

    @field_validator("cameras")
    @classmethod
    def _sorted_unique(cls, value: list[str], info: Any) -> list[str]:
        registry: Registry | None = (info.context or {}).get("registry")
        if registry is not None:
            unknown = sorted(set(value) - registry.ids)
            if unknown:
                raise ValueError(f"unknown camera id(s) {', '.join(unknown)}; see the camera registry")
        return sorted(set(value))

    def to_dict(self) -> dict[str, Any]:
        """The filter as the JSON object of the spec (unset attributes left out)."""
        return {
            "time": self.time.model_dump(mode="json") if self.time else None,
            "cameras": list(self.cameras),
            "place_text": self.place_text,
            "attributes": self.attributes.constrained(),
            "description": self.description,
        }

    def to_json(self) -> str:
        """Compact JSON of :meth:`to_dict` (non-ASCII kept)."""
        import json

        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_data(cls, data: dict[str, Any] | str, registry: Registry | None = None) -> Filter:
        """Validate a dict or JSON string; raise :class:`FilterError` with every problem listed.

        With a ``registry``, camera ids are checked against it.
        """
        try:
            if isinstance(data, str):
                return cls.model_validate_json(data, context={"registry": registry})
            return cls.model_validate(data, context={"registry": registry})
        except ValidationError as err:
            raise FilterError(_readable(err)) from err


def _readable(err: ValidationError) -> str:
    """One line per problem: where in the filter, and what is wrong."""
    lines = []
    for problem in err.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "filter"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            allowed = ATTRIBUTE_KEYS if where.startswith("attributes.") else tuple(Filter.model_fields)
            message = f"unknown field; allowed: {', '.join(allowed)}"
        lines.append(f"{where}: {message}")
    return "invalid filter: " + "; ".join(lines)


def llm_json_schema() -> dict[str, Any]:
    """JSON schema of the filter's attributes + description, for constraining the LLM's output."""
    return Filter.model_json_schema()


# ---- follow-up edits (pure: each returns a new Filter) ----


def set_attributes(current: Filter, **values: Any) -> Filter:
    """Add or replace attribute values ("also wearing a hat", "the jacket was blue, not red")."""
    unknown = sorted(set(values) - set(ATTRIBUTE_KEYS))
    if unknown:
        raise FilterError(f"unknown attribute(s) {', '.join(unknown)}; allowed: {', '.join(ATTRIBUTE_KEYS)}")
    merged = {**current.attributes.constrained(), **values}
    return _replace(current, attributes=merged)


def remove_attributes(current: Filter, *keys: str) -> Filter:
    """Drop constraints ("forget the glasses", "不限眼镜")."""
    unknown = sorted(set(keys) - set(ATTRIBUTE_KEYS))
    if unknown:
        raise FilterError(f"unknown attribute(s) {', '.join(unknown)}; allowed: {', '.join(ATTRIBUTE_KEYS)}")
    kept = {k: v for k, v in current.attributes.constrained().items() if k not in keys}
    return _replace(current, attributes=kept)


def set_time(current: Filter, window: TimeWindow | None) -> Filter:
    """Replace the time window; ``None`` removes the time constraint ("any time", "不限时间")."""
    return _replace(current, time=window)


def set_cameras(current: Filter, cameras: Iterable[str], place_text: str | None) -> Filter:
    """Replace the cameras ("make it the east gate instead", "换成东门")."""
    return _replace(current, cameras=list(cameras), place_text=place_text)


def add_cameras(current: Filter, cameras: Iterable[str], place_text: str | None) -> Filter:
    """Add cameras to the current ones ("check exit 1 as well", "再加上1号口")."""
    joined = " + ".join(p for p in (current.place_text, place_text) if p) or None
    return _replace(current, cameras=[*current.cameras, *cameras], place_text=joined)


def narrow_cameras(current: Filter, cameras: Iterable[str], place_text: str | None) -> Filter:
    """Keep the current cameras the phrase matches; if none do, the phrase's cameras replace them."""
    wanted = set(cameras)
    kept = [c for c in current.cameras if c in wanted]
    return _replace(current, cameras=kept or list(wanted), place_text=place_text)


def set_description(current: Filter, description: str | None) -> Filter:
    """Replace the English appearance description used for the CLIP text embedding."""
    return _replace(current, description=description)


def reset() -> Filter:
    """A new, unconstrained search ("new search", "重新查")."""
    return Filter()


def _replace(current: Filter, **fields: Any) -> Filter:
    data = current.model_dump()
    data.update(fields)
    return Filter.from_data(data)


# ---- human-readable summary ----


@lru_cache(maxsize=4)
def display_words(lang: str) -> dict[str, Any]:
    """Display vocabulary for ``lang`` from ``assistant/lang/<lang>/display.toml``."""
    path = LANG_DIR / lang / "display.toml"
    if not path.exists():
        raise FilterError(f"no display vocabulary for language {lang!r}; available: en, zh")
    with path.open("rb") as handle:
        return tomllib.load(handle)


def summarize(
    current: Filter, lang: str = "en", registry: Registry | None = None, now: datetime | None = None
) -> str:
    """One line for officers: who · where · when.

    E.g. "女性、白色上衣、戴眼镜 · 地铁3号出口 (2个摄像头) · 9月7日 06:00–12:00".
    """
    words = display_words(lang)
    parts = [
        _describe_person(current.attributes, words),
        _describe_place(current, words, registry, lang),
        describe_time(current.time, lang, now),
    ]
    return " · ".join(parts)


def _describe_person(attrs: Attributes, words: dict[str, Any]) -> str:
    values = words["values"]
    sep = words["words"]["separator"]
    pieces: list[str] = []
    for key in ("gender", "age", "hair"):
        value = getattr(attrs, key)
        if value is not None:
            pieces.append(values[key][value])
    for side in ("upper", "lower"):
        colours = getattr(attrs, f"{side}_color")
        garment = getattr(attrs, f"{side}_garment")
        if colours is None and garment is None:
            continue
        colour_text = words["words"]["colour_join"].join(words["colours"][c] for c in colours or [])
        garment_text = values[f"{side}_garment"][garment] if garment else words["words"][f"{side}_generic"]
        pieces.append(words["words"]["colour_garment"].format(colour=colour_text, garment=garment_text).strip())
    if attrs.sleeve is not None:
        pieces.append(values["sleeve"][attrs.sleeve])
    for key in FLAG_KEYS:
        value = getattr(attrs, key)
        if value is not None:
            pieces.append(words["flags"][key]["yes" if value else "no"])
    if attrs.vehicle is not None:
        pieces.append(values["vehicle"][attrs.vehicle])
    return sep.join(pieces) or words["words"]["anyone"]


def _describe_place(current: Filter, words: dict[str, Any], registry: Registry | None, lang: str) -> str:
    w = words["words"]
    if not current.cameras:
        if current.place_text:
            return w["place_not_found"].format(place=current.place_text)
        return w["anywhere"]
    if current.place_text:
        label = current.place_text
    elif registry is not None and len(current.cameras) == 1:
        label = registry.get(current.cameras[0]).name(lang)
    else:
        label = ", ".join(current.cameras)
    count = w["one_camera"] if len(current.cameras) == 1 else w["n_cameras"].format(n=len(current.cameras))
    return f"{label} ({count})"


def describe_time(window: TimeWindow | None, lang: str = "en", now: datetime | None = None) -> str:
    """A window for officers: "Sep 7 06:00–12:00", "9月7日", "Aug 30 – Sep 5"; "any time" when unset."""
    w = display_words(lang)["words"]
    if window is None:
        return w["any_time"]
    start, end = window.start, window.end.astimezone(window.start.tzinfo)
    now = now or datetime.now(start.tzinfo)
    same_year = start.year == now.year and end.year == now.year

    def day(moment: datetime) -> str:
        pattern = w["day_format"] if same_year else w["day_year_format"]
        return pattern.format(y=moment.year, m=moment.month, d=moment.day, mon=w["months"][moment.month - 1])

    whole_days = start.time() == end.time() == datetime.min.time()
    if whole_days:
        last = end - timedelta(days=1)
        return day(start) if last.date() == start.date() else f"{day(start)} – {day(last)}"
    end_clock = "24:00" if end.time() == datetime.min.time() and end - start <= timedelta(days=1) else None
    if start.date() == end.date() or end_clock:
        return f"{day(start)} {start:%H:%M}–{end_clock or format(end, '%H:%M')}"
    return f"{day(start)} {start:%H:%M} – {day(end)} {end:%H:%M}"
