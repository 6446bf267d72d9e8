"""Time phrases in officers' requests (English, Chinese or mixed) → one half-open window.

The "Time conventions" table of ``query-schema.md`` decides every window. Language knowledge —
words, numbers and the patterns that combine them — lives in ``assistant/lang/<lang>/time.toml``;
this module compiles those patterns, keeps the longest non-overlapping matches and composes day,
day part and clock time into a window. It never names a language; Chinese numerals are read with
``cn2an``. ``dateparser`` is not called: the rules cover the conventions, and it costs 0.3–3 s on
a first call per language.

Choices the spec leaves open:
- an hour without am/pm and without a day part: 1–6 is the afternoon ("at 3", "3点左右" = 15:00),
  other hours as written ("at 7" = 07:00); a leading zero ("03:00") is always as written;
- 深夜/半夜/午夜/"late at night" run from 22:00 to 02:00 of the next day, "at midnight" 23:00–01:00;
- "2 hours ago"/"两个小时前" is a clock time (±30 minutes); "3 days ago" the whole day;
- "weekend"/"周末" is the most recent Saturday 00:00 to Monday 00:00 that has begun;
- vague phrases ("the other day", 前两天) resolve to nothing and are reported in ``unresolved``;
- day phrases linked by "to"/"and"/"or"/"和"/"到" give the span of all of them; unlinked ones
  ("10月12号 星期一") name one day, and the narrowest wins;
- a phrase that cannot be resolved ("February 30", "25点") gives no window, never a guess.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import cn2an
from dateutil.relativedelta import relativedelta

from assistant.filters import LANG_DIR, TimeWindow

CLOCK_HALF_WIDTH = timedelta(minutes=30)
AFTERNOON_BARE_HOURS = range(1, 7)  # "at 3" with no am/pm and no day part = 15:00
MIN_YEAR, MAX_YEAR = 1900, 2100  # a "year" outside is not one (a count, a typo)

# placeholder -> (regex for digits, table(s) of number words) ; numbers also take numeral_chars
_NUMBER_SLOTS = {
    "n": (r"(?<![\d.])\d+(?:\.\d+)?(?!\d)", ("counts", "numbers")),
    "y": (r"(?<!\d)\d{4}(?!\d)", ()),
    "m": (r"(?<!\d)\d{1,2}(?!\d)", ("numbers",)),
    "d": (r"(?<!\d)\d{1,2}(?!\d)", ("numbers",)),
    "h": (r"(?<!\d)\d{1,2}(?!\d)", ("numbers",)),
    "min": (r"(?<!\d)\d{1,2}(?!\d)", ("numbers",)),
    "w": (r"(?<!\d)\d{1,2}(?!\d)", ("numbers",)),
}
_TABLE_SLOTS = {
    "mon": "months",
    "wd": "weekdays",
    "wk": "week_prefixes",
    "unit": "units",
    "day": "days",
    "part": "parts",
    "period": "periods",
    "mer": "meridiem",
    "mw": "minute_words",
    "hw": "hour_words",
    "sp": "short_parts",
}
_WORD_SLOTS = {"to": "range", "approx": "approx", "numbered": "numbered"}  # matched, not captured
_FLAG_SLOTS = ("after", "before")  # [words] lists captured as "was said"
_FLAG_GROUPS = (*_FLAG_SLOTS, "more")  # "more" is the literal group (?P<more>多) of "3点多"
_LIST_KINDS = ("clear", "whole_day", "vague")  # [words] lists that are rules of their own
_PLACEHOLDER = re.compile(r"\{([a-z]+?)(\d?)\}")
# ASCII letters, case-sensitive inside case-insensitive patterns (case folding makes compiling slow)
_NOT_AFTER_LETTER = r"(?<!(?-i:[A-Za-z]))"
_NOT_BEFORE_LETTER = r"(?!(?-i:[A-Za-z]))"
# full-width ASCII (９月７号, 15：00) read as ASCII, one character for one so spans stay valid
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


@dataclass(frozen=True)
class TimeParse:
    """What a request says about time; see :func:`parse_time`."""

    window: TimeWindow | None
    spans: list[tuple[int, int]]
    has_day: bool
    unresolved: list[str]
    clear: bool = False


# ---- grammar: the data files compiled once ----


@dataclass(frozen=True)
class _Lang:
    """One language's vocabulary: normalised phrase -> value, per table."""

    tables: dict[str, dict[str, Any]]
    numeral_chars: str
    needs_context: frozenset[str]


@dataclass(frozen=True)
class _Rule:
    kind: str
    regex: re.Pattern[str]
    lang: _Lang
    quiet: bool
    order: int


@dataclass(frozen=True)
class _Grammar:
    rules: tuple[_Rule, ...]
    connector: re.Pattern[str]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _word_regex(word: str) -> str:
    body = r"\s+".join(re.escape(piece) for piece in word.split())
    if word[0].isascii() and word[0].isalpha():
        body = _NOT_AFTER_LETTER + body
    if word[-1].isascii() and word[-1].isalnum():
        body += _NOT_BEFORE_LETTER
    return body


def _alternation(words: Iterable[str]) -> str:
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(_word_regex(w) for w in ordered) or "(?!)"


def _slot_regex(base: str, lang: _Lang, words: dict[str, list[str]]) -> str:
    if base in _NUMBER_SLOTS:
        digits, tables = _NUMBER_SLOTS[base]
        options = [digits]
        named = [w for t in tables for w in lang.tables.get(t, {})]
        if named:
            options.append(_alternation(named))
        if lang.numeral_chars:
            count = "{4}" if base == "y" else "{1,4}"  # bounded: no quadratic scan of long runs
            options.append(f"[{re.escape(lang.numeral_chars)}]{count}")
        return "|".join(options)
    if base in _TABLE_SLOTS:
        return _alternation(lang.tables.get(_TABLE_SLOTS[base], {}))
    if base in _WORD_SLOTS or base in _FLAG_SLOTS:
        return _alternation(words.get(_WORD_SLOTS.get(base, base), []))
    raise ValueError(f"unknown placeholder {{{base}}} in a time.toml pattern; known: "
                     f"{', '.join([*_NUMBER_SLOTS, *_TABLE_SLOTS, *_WORD_SLOTS, *_FLAG_SLOTS])}")


def _compile(pattern: str, lang: _Lang, words: dict[str, list[str]]) -> re.Pattern[str]:
    out: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(pattern):
        out.append(pattern[last : match.start()].replace(" ", r"\s+").replace("_", r"\s*"))
        base, suffix = match.groups()
        body = _slot_regex(base, lang, words)
        out.append(f"(?:{body})" if base in _WORD_SLOTS else f"(?P<{base}{suffix}>{body})")
        last = match.end()
    out.append(pattern[last:].replace(" ", r"\s+").replace("_", r"\s*"))
    return re.compile(_NOT_AFTER_LETTER + "".join(out), re.IGNORECASE)  # never start inside a word


def _table(raw: dict[str, Any]) -> dict[str, Any]:
    return {_norm(key): value for key, value in raw.items()}


@lru_cache(maxsize=1)
def _grammar() -> _Grammar:
    """Every language's ``time.toml`` compiled into rules (cached)."""
    rules: list[_Rule] = []
    connectors: list[str] = []
    for path in sorted(LANG_DIR.glob("*/time.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        words: dict[str, list[str]] = data.get("words", {})
        tables = {name: _table(data.get(name, {})) for name in {*_TABLE_SLOTS.values(), "numbers", "counts"}}
        needs = frozenset(_norm(w) for w in data.get("clock", {}).get("needs_context", []))
        lang = _Lang(tables, data.get("numeral_chars", ""), needs)
        connectors += words.get("range", []) + words.get("also", [])
        for rule in data.get("rule", []):
            try:
                regex = _compile(rule["pattern"], lang, words)
            except re.error as err:
                raise ValueError(f"bad {rule['kind']} pattern in {path}: {rule['pattern']!r}: {err}") from err
            rules.append(_Rule(rule["kind"], regex, lang, rule.get("quiet", False), len(rules)))
        for kind in _LIST_KINDS:
            regex = re.compile(_alternation(words.get(kind, [])), re.IGNORECASE)
            rules.append(_Rule(kind, regex, lang, False, len(rules)))
    connector = re.compile(rf"\s*(?:{_alternation(connectors)})\s*", re.IGNORECASE)
    return _Grammar(tuple(rules), connector)


# ---- matching ----


@dataclass(frozen=True)
class _Hit:
    kind: str
    start: int
    end: int
    text: str
    values: dict[str, Any]
    quiet: bool
    lang: _Lang


def _number(text: str, lang: _Lang) -> float | None:
    key = _norm(text)
    for table in ("numbers", "counts"):
        if key in lang.tables[table]:
            return float(lang.tables[table][key])
    if re.fullmatch(r"\d+(?:\.\d+)?", key):
        return float(key)
    try:
        return float(cn2an.cn2an(key, "smart"))
    except ValueError:
        return None


def _values(match: re.Match[str], lang: _Lang) -> dict[str, Any] | None:
    """Group texts → numbers / table values; None if a number cannot be read."""
    values: dict[str, Any] = {}
    for name, text in match.groupdict().items():
        if text is None:
            continue
        base = name.rstrip("0123456789")
        if base in _NUMBER_SLOTS:
            number = _number(text, lang)
            if number is None:
                return None
            values[name] = number
            values[name + "_raw"] = text
        elif base in _TABLE_SLOTS:
            values[name] = lang.tables[_TABLE_SLOTS[base]][_norm(text)]
        elif base in _FLAG_GROUPS:
            values[name] = True
    return values


def _candidates(text: str) -> Iterator[tuple[int, int, _Rule, re.Match[str]]]:
    for rule in _grammar().rules:
        for match in rule.regex.finditer(text):
            if match.end() > match.start():
                yield match.start(), match.end(), rule, match


def _hits(text: str) -> list[_Hit]:
    """The longest non-overlapping matches, in text order."""
    found = sorted(_candidates(text), key=lambda c: (c[0] - c[1], c[2].order, c[0]))
    taken = bytearray(len(text))
    hits: list[_Hit] = []
    for start, end, rule, match in found:
        if any(taken[start:end]):
            continue
        values = _values(match, rule.lang)
        if values is None:
            continue
        taken[start:end] = b"\x01" * (end - start)
        hits.append(_Hit(rule.kind, start, end, match.group(), values, rule.quiet, rule.lang))
    return sorted(hits, key=lambda h: h.start)


# ---- what the hits say ----


@dataclass(frozen=True)
class _Day:
    """A day reference before resolution: a date, a day of the month, a month, a year or fixed days."""

    kind: str  # date | mday | month | year | fixed
    start: int
    end: int
    text: str
    y: int | None = None
    m: int | None = None
    d: int | None = None
    first: date | None = None
    stop: date | None = None


@dataclass(frozen=True)
class _Clock:
    mode: str  # point | hour | range | after | before
    h: float
    minute: float
    mer: str | None
    raw: str
    h2: float = 0
    minute2: float = 0
    mer2: str | None = None
    raw2: str = ""
    hours1: tuple[float, float] | None = None  # day parts said inside a range ("晚上9点到凌晨3点")
    hours2: tuple[float, float] | None = None


@dataclass
class _Found:
    days: list[_Day] = field(default_factory=list)
    pairs: list[tuple[_Day, _Day]] = field(default_factory=list)
    hours: list[tuple[float, float]] = field(default_factory=list)
    clocks: list[tuple[_Clock, str]] = field(default_factory=list)
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    whole_day: bool = False
    clear: bool = False
    failed: bool = False  # a time phrase could not be resolved: no window rather than a wrong one
    vague: bool = False  # "the other day": no window unless a day is named too


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _at(day: date, hours: float, tz: Any) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz) + timedelta(seconds=round(hours * 3600))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _delta(unit: str, count: float) -> timedelta | relativedelta | None:
    if unit in ("months", "years"):
        return relativedelta(**{unit: int(count)}) if count == int(count) and count > 0 else None
    return timedelta(**{unit: count}) if count > 0 else None


def _fixed(hit: _Hit, first: date, days: int = 1, stop: date | None = None) -> _Day:
    return _Day("fixed", hit.start, hit.end, hit.text, first=first, stop=stop or first + timedelta(days=days))


def _period(unit: str, offset: int, today: date) -> tuple[date, date]:
    if unit == "week":
        first = _monday(today) + timedelta(weeks=offset)
        return first, first + timedelta(weeks=1)
    if unit == "month":
        first = today.replace(day=1) + relativedelta(months=offset)
        return first, first + relativedelta(months=1)
    if unit == "year":
        first = date(today.year + offset, 1, 1)
        return first, date(first.year + 1, 1, 1)
    saturday = _monday(today) + timedelta(weeks=offset, days=5)
    if offset == 0 and saturday > today:
        saturday -= timedelta(weeks=1)
    return saturday, saturday + timedelta(days=2)


def _iso_week(w: int, y: int | None, today: date) -> date | None:
    year = y if y is not None else today.isocalendar().year
    try:
        first = date.fromisocalendar(year, w, 1)
        if y is None and first > today:
            first = date.fromisocalendar(year - 1, w, 1)
    except ValueError:
        return None
    return first


def _hours(value: list[float]) -> tuple[float, float]:
    """A day part's [start, end) hours from the data files."""
    return float(value[0]), float(value[1])


def _clock(v: dict[str, Any], mode: str) -> _Clock:
    def hm(suffix: str) -> tuple[float, float]:
        h, minute = v.get("h" + suffix, v.get("hw" + suffix, 0)), v.get("min" + suffix, 0)
        word = v.get("mw" + suffix)
        if word is not None:
            minute = word if word >= 0 else 60 + word
            h = h if word >= 0 else h - 1
        return h, minute

    h, minute = hm("")
    h2, minute2 = hm("2")
    return _Clock(
        mode, h, minute, v.get("mer"), v.get("h_raw", ""), h2, minute2, v.get("mer2"), v.get("h2_raw", ""),
        _hours(v["part"]) if "part" in v else None, _hours(v["part2"]) if "part2" in v else None,
    )


def _read(hit: _Hit, now: datetime, found: _Found) -> bool:
    """Add what one hit says to ``found``; False if it cannot be resolved."""
    v, today, kind = hit.values, now.date(), hit.kind
    if kind in ("clear", "whole_day"):
        setattr(found, kind, True)
        return True
    if kind == "vague":
        return False
    if kind in ("duration", "ago"):
        end = now.replace(microsecond=0)
        try:
            delta = _delta(v["unit"], v.get("n", 1))
            then, day = (end - delta, today - delta) if delta is not None else (None, None)
        except (OverflowError, ValueError):  # "the past 99999 years"
            return False
        if then is None or day is None:
            return False
        if kind == "duration":
            found.windows.append((then, end))
        elif v["unit"] in ("minutes", "hours"):
            found.windows.append((then - CLOCK_HALF_WIDTH, then + CLOCK_HALF_WIDTH))
        else:
            found.days.append(_fixed(hit, day))
        return True
    if kind == "day":
        entry = v["day"]
        offset = entry["days"] if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and "hours" in entry:
            found.hours.append(_hours(entry["hours"]))
        found.days.append(_fixed(hit, today + timedelta(days=offset)))
        return True
    if kind == "part":
        found.hours.append(_hours(v.get("part") or v["sp"]))
        return True
    if kind == "weekday":
        if "wk" in v:
            day = _monday(today) + timedelta(weeks=v["wk"], days=v["wd"])
        else:
            day = today - timedelta(days=(today.weekday() - v["wd"]) % 7)
        found.days.append(_fixed(hit, day))
        return True
    if kind == "period":
        first, stop = _period(v["period"]["unit"], v["period"]["offset"], today)
        found.days.append(_fixed(hit, first, stop=stop))
        return True
    if kind == "week":
        first = _iso_week(int(v["w"]), _int(v.get("y")), today)
        if first is None:
            return False
        found.days.append(_fixed(hit, first, days=7))
        return True
    if kind in ("date", "mday", "month", "year"):
        month = v.get("mon", v.get("m"))
        found.days.append(_Day(kind, hit.start, hit.end, hit.text, _int(v.get("y")), _int(month), _int(v.get("d"))))
        return True
    if kind in ("date_range", "month_range", "year_range"):
        single = kind.removesuffix("_range")
        y, m, m2 = _int(v.get("y")), _int(v.get("mon", v.get("m"))), _int(v.get("mon2", v.get("m2")))
        day = _Day(single, hit.start, hit.end, hit.text, y, m, _int(v.get("d")))
        other = _Day(single, hit.start, hit.end, hit.text, _int(v.get("y2", y)), m2 or m, _int(v.get("d2")))
        found.pairs.append((day, other))
        return True
    if kind == "clock":
        mode = next((f for f in ("after", "before", "more") if v.get(f)), "point")
        found.clocks.append((_clock(v, "hour" if mode == "more" else mode), hit.text))
        return True
    found.clocks.append((_clock(v, "range"), hit.text))
    return True


# ---- resolving days ----


def _resolve(day: _Day, not_after: date) -> tuple[date, date] | None:
    """A day reference → [first, stop) days, the most recent one not after ``not_after``."""
    if day.kind == "fixed":
        return (day.first, day.stop) if day.first and day.stop else None
    if day.y is not None and not MIN_YEAR <= day.y <= MAX_YEAR:
        return None
    if day.kind == "year":
        return (date(day.y, 1, 1), date(day.y + 1, 1, 1)) if day.y else None
    if day.m is None or not 1 <= day.m <= 12:
        if day.kind != "mday" or day.d is None:
            return None
        cursor = not_after.replace(day=1)
        for _ in range(12):
            found = _date(cursor.year, cursor.month, day.d)
            if found and found <= not_after:
                return found, found + timedelta(days=1)
            cursor -= relativedelta(months=1)
        return None
    if day.kind == "month":
        year = day.y if day.y is not None else not_after.year - (day.m > not_after.month)
        first = date(year, day.m, 1)
        return first, first + relativedelta(months=1)
    if day.d is None:
        return None
    years = [day.y] if day.y is not None else range(not_after.year, not_after.year - 8, -1)
    for year in years:
        found = _date(year, day.m, day.d)
        if found and (day.y is not None or found <= not_after):
            return found, found + timedelta(days=1)
    return None


def _shift_month(day: _Day, months: int) -> _Day:
    if day.m is None:
        return day
    index = day.m - 1 + months
    year = day.y + index // 12 if day.y is not None else None
    return replace(day, m=index % 12 + 1, y=year)


def _resolve_pair(first: _Day, last: _Day, today: date) -> tuple[date, date] | None:
    """A range "A to B": B is the most recent one not after today, A the most recent not after B."""
    if last.kind == "mday" and first.kind in ("date", "mday") and first.m is not None:
        last = _shift_month(replace(last, kind="date", m=first.m, y=first.y), int((last.d or 0) < (first.d or 0)))
    if first.kind == "mday" and last.kind == "date" and last.m is not None:
        first = _shift_month(replace(first, kind="date", m=last.m, y=last.y), -int((first.d or 0) > (last.d or 0)))
    end = _resolve(last, today)
    if end is None:
        return None
    start = _resolve(first, end[0] if first.y is None else today)
    if start is None or start[0] > end[0]:
        return None
    return start[0], end[1]


def _day_span(found: _Found, text: str, today: date) -> tuple[date, date] | None:
    """Resolve the day references; join those linked by "to"/"and"/"和" into one span.

    Day phrases that are not linked ("10月12号，星期一", "this week on Monday") describe the
    same day, so the narrowest one wins.
    """
    groups: list[list[_Day]] = [[first, last] for first, last in found.pairs]
    linked: list[list[_Day]] = []
    connector = _grammar().connector
    for day in _in_context(found.days, today):
        if linked and connector.fullmatch(text[linked[-1][-1].end : day.start]):
            found.spans.append((linked[-1][-1].end, day.start))
            linked[-1].append(day)
        else:
            linked.append([day])
    spans: list[tuple[date, date]] = []
    for group in groups + linked:
        resolved = _resolve_group(group, today)
        if resolved is None:
            found.unresolved.append(text[group[0].start : group[-1].end])
            found.failed = True
        else:
            spans.append(resolved)
    return min(spans, key=lambda s: s[1] - s[0]) if spans else None


def _in_context(days: list[_Day], today: date) -> list[_Day]:
    """Give a day of the month the month, and a date or month the year, that another phrase names
    as a whole ("上个月5号", "the 5th of last month", "去年9月7号", "May last year")."""
    spans = [span for span in (_resolve(day, today) for day in days) if span is not None]
    months = [first for first, stop in spans if first.day == 1 and stop == first + relativedelta(months=1)]
    years = [first for first, stop in spans if (first.month, first.day) == (1, 1) and stop.year == first.year + 1]
    placed: list[_Day] = []
    for day in days:
        if day.kind == "mday" and day.m is None and months:
            day = replace(day, kind="date", m=months[0].month, y=months[0].year)
        elif day.kind in ("date", "month") and day.y is None and years:
            day = replace(day, y=years[0].year)
        placed.append(day)
    return placed


def _resolve_group(group: list[_Day], today: date) -> tuple[date, date] | None:
    if len(group) == 2 and "fixed" not in (group[0].kind, group[1].kind):
        return _resolve_pair(group[0], group[1], today)
    resolved = [_resolve(day, today) for day in group]
    if any(r is None for r in resolved):
        return None
    return min(r[0] for r in resolved if r), max(r[1] for r in resolved if r)


# ---- resolving clock times ----


def _hour(h: float, minute: float, mer: str | None, raw: str, hours: tuple[float, float] | None) -> float | None:
    """Hour of the day (may pass 24 for a day part that runs past midnight); None if impossible."""
    if not (0 <= h <= 24 and 0 <= minute < 60):
        return None
    if mer is not None:
        if h > 12:
            return None
        return h % 12 + (12 if mer == "pm" else 0) + minute / 60
    if h > 12 or (len(raw) == 2 and raw.startswith("0")):
        return h + minute / 60
    if hours is not None:
        options = [h, h + 12, h + 24] if h < 12 else [12, 24, 0, 36]
        for option in options:
            if hours[0] <= option + minute / 60 <= hours[1]:
                return option + minute / 60
    return (h + 12 if h in AFTERNOON_BARE_HOURS and hours is None else h) + minute / 60


def _clock_hours(clock: _Clock, hours: tuple[float, float] | None) -> tuple[float, float] | None:
    """[from, to) in hours of the day for one clock phrase."""
    hours = clock.hours1 or hours
    start = _hour(clock.h, clock.minute, clock.mer or clock.mer2, clock.raw, hours)
    if clock.mode == "point":
        return None if start is None else (start, start)
    if clock.mode == "hour":
        return None if start is None else (start, start + 1)
    if clock.mode in ("after", "before"):
        return None if start is None else (start, start)
    end = _hour(clock.h2, clock.minute2, clock.mer2 or clock.mer, clock.raw2, clock.hours2 or clock.hours1 or hours)
    if clock.mer is None and clock.mer2 is not None and (start is None or end is None or start >= end):
        start = _hour(clock.h, clock.minute, None, clock.raw, hours)
    if start is None or end is None:
        return None
    step = 24 if clock.mer2 or clock.hours2 else 12
    while end <= start:
        end += step
    return start, end


def _clock_window(
    clock: _Clock, span: tuple[float, float], first: date, last: date, days_end: datetime, tz: Any
) -> tuple[datetime, datetime]:
    if clock.mode == "point":
        return _at(first, span[0], tz) - CLOCK_HALF_WIDTH, _at(last, span[0], tz) + CLOCK_HALF_WIDTH
    if clock.mode == "after":
        start = _at(first, span[0], tz)
        return start, max(days_end, _at(start.date() + timedelta(days=1), 0, tz))
    if clock.mode == "before":
        return _at(first, 0, tz), _at(last, span[0], tz)
    return _at(first, span[0], tz), _at(last, span[1], tz)


# ---- the whole request ----


def _hull(windows: list[tuple[datetime, datetime]]) -> tuple[datetime, datetime]:
    return min(w[0] for w in windows), max(w[1] for w in windows)


def parse_time(text: str, now: datetime, anchor: date | None = None) -> TimeParse:
    """Read the time constraint of ``text`` relative to ``now`` (tz-aware; windows in its timezone).

    ``anchor`` is the day of the current filter in a follow-up: a day part, clock time or
    "whole day" without a day of its own then applies to it (else to today).
    """
    if now.tzinfo is None:
        raise ValueError(f"parse_time needs a timezone-aware now, got {now.isoformat()}; "
                         "pass e.g. datetime.now(get_settings().tz)")
    tz, today = now.tzinfo, now.date()
    found = _Found()
    plain = text.translate(_FULL_WIDTH)
    hits = _hits(plain)
    has_part = any(h.kind == "part" or (h.kind == "day" and isinstance(h.values["day"], dict)) for h in hits)
    for hit in hits:
        if hit.kind == "clock" and _norm(hit.text) in hit.lang.needs_context and not has_part:
            continue
        if _read(hit, now, found):
            found.spans.append((hit.start, hit.end))
        elif not hit.quiet:
            found.unresolved.append(hit.text)
            found.spans.append((hit.start, hit.end))
            found.vague |= hit.kind == "vague"
            found.failed |= hit.kind != "vague"
    days = _day_span(found, plain, today)
    has_day = days is not None or bool(found.windows)
    unusable = found.failed or (found.vague and days is None)
    window = None if unusable else _window(found, days, anchor or today, tz)
    if window is not None and window[1] <= window[0]:
        window = None
    return TimeParse(
        window=TimeWindow(start=window[0], end=window[1]) if window else None,
        spans=sorted(found.spans),
        has_day=has_day,
        unresolved=found.unresolved,
        clear=found.clear and window is None,
    )


def _window(
    found: _Found, days: tuple[date, date] | None, base: date, tz: Any
) -> tuple[datetime, datetime] | None:
    """Compose relative spans, days, day parts and clock times into one window."""
    if found.windows:
        return _hull(found.windows)
    named_day = days is not None
    if days is None:
        days = (base, base + timedelta(days=1))
    first, last = days[0], days[1] - timedelta(days=1)
    days_window = (_at(days[0], 0, tz), _at(days[1], 0, tz))
    if found.whole_day:
        return days_window
    if not (named_day or found.hours or found.clocks):
        return None
    hours = (min(h[0] for h in found.hours), max(h[1] for h in found.hours)) if found.hours else None
    if found.clocks:
        windows: list[tuple[datetime, datetime]] = []
        for clock, phrase in found.clocks:
            span = _clock_hours(clock, hours)
            if span is None:
                found.unresolved.append(phrase)
                return None
            windows.append(_clock_window(clock, span, first, last, days_window[1], tz))
        modes = {clock.mode for clock, _ in found.clocks}
        if modes == {"after", "before"} and len(windows) == 2:
            start, end = max(w[0] for w in windows), min(w[1] for w in windows)
        else:
            start, end = _hull(windows)
        return (start, end) if end > start else None
    if hours is not None:
        return _at(first, hours[0], tz), _at(last, hours[1], tz)
    return days_window if named_day else None
