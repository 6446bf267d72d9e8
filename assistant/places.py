"""Place grounding: which registry cameras a place phrase means (``query-schema.md``, "Place grounding").

Driven by the camera registry plus place-kind vocabulary (``lang/*/places.toml``);
no camera is named in code or data. A request is read in this order, each step
consuming what it matched: full camera names and aliases; area names (also
without suffixes like 社区/花园, or by a word only one area has); numbers
("exit 3", "3号口"); directions and kinds ("east gate", "北门", "car park").
Every camera is profiled with the same reader, so "metro exit 3" selects
exit 3 of every station and "换成北门" within the current area picks that
area's north gate. A phrase that looks like a place but matches nothing is
returned as ``unresolved`` with no cameras.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cn2an

from assistant.attributes import is_person_word
from assistant.lexicon import BLANK, Hit, Lexicon, Scanner, has_cjk, is_cjk, lang_data
from assistant.registry import Camera, Registry

MAX_PLACE_TEXT = 60
"""Longer covering spans fall back to joining the matched words."""
MIN_NAME_WORDS = 2
"""Without an area or place kind, this many words of one camera's names are needed to name it."""


@dataclass(frozen=True)
class PlaceMatch:
    """What the place words of a request mean.

    ``cameras`` sorted ids ([] = no place, or a place not found); ``place_text``
    the phrase as written; ``spans`` the consumed character ranges;
    ``unresolved`` the phrase when it names a place the registry does not have;
    ``areas`` the registry areas the phrase named.
    """

    cameras: list[str] = field(default_factory=list)
    place_text: str | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)
    unresolved: str | None = None
    areas: list[str] = field(default_factory=list)


# ---- vocabulary ----


@dataclass(frozen=True)
class _Vocab:
    stop: frozenset[str]
    kinds: Lexicon  # value: (kind, qualified)
    directions: Lexicon  # value: (direction, bound)
    kind_words: frozenset[str]
    numeral_re: re.Pattern[str] | None
    marked_number_re: re.Pattern[str] | None
    markers: tuple[str, ...]
    joiners_re: re.Pattern[str]
    not_labels: frozenset[str]
    number_words: dict[str, int]
    free_number_re: re.Pattern[str]
    area_suffixes: tuple[str, ...]
    stop_chars: frozenset[str]
    links: tuple[str, ...]
    prepositions: Lexicon
    articles: frozenset[str]
    place_nouns_latin: frozenset[str]
    place_nouns_cjk: Lexicon


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    data = lang_data("places")
    kinds: list[tuple[str, Any]] = []
    directions: list[tuple[str, Any]] = []
    stop: set[str] = set()
    numerals: list[str] = []
    markers: list[str] = []
    joiners: list[str] = []
    prefixes: list[str] = []
    suffixes: list[str] = []
    stop_chars: set[str] = set()
    links: list[str] = []
    preps: list[str] = []
    articles: set[str] = set()
    nouns: list[str] = []
    not_labels: list[str] = []
    number_words: dict[str, int] = {}
    for lang in data.values():
        for qualified, table in ((False, lang.get("kinds", {})), (True, lang.get("qualified_kinds", {}))):
            kinds += [(w, (kind, qualified)) for kind, words in table.items() for w in words]
        for bound, table in ((False, lang.get("directions", {})), (True, lang.get("bound_directions", {}))):
            directions += [(w, (d, bound)) for d, words in table.items() for w in words]
        stop.update(lang.get("stop", []))
        numerals += lang.get("numeral_before", [])
        markers += lang.get("number_marker", [])
        joiners += lang.get("number_joiners", [])
        prefixes += lang.get("number_prefixes", [])
        not_labels += lang.get("not_labels", [])
        number_words.update(lang.get("number_words", {}))
        suffixes += lang.get("area_suffixes", [])
        stop_chars.update(lang.get("stop_chars", ""))
        links += lang.get("direction_links", [])
        unknown = lang.get("unknown", {})
        preps += unknown.get("prepositions", [])
        articles.update(unknown.get("articles", []))
        nouns += unknown.get("place_nouns", [])
    join = "|".join(re.escape(j) for j in sorted(joiners, key=len, reverse=True))
    before = "|".join(map(re.escape, numerals))
    numeral_re = re.compile(rf"[零〇一二两三四五六七八九十百]+(?={before})") if numerals else None
    marked = (
        re.compile(rf"(\d+(?:\s*(?:{join})\s*\d+)*)\s*(?:{'|'.join(map(re.escape, markers))})") if markers else None
    )
    prefix = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    spelled = "".join(f"|{re.escape(w)}" for w in sorted(number_words, key=len, reverse=True))
    number = rf"(?:(?:{prefix})\s*)?(?:\d+{spelled})(?![a-z])"
    free = re.compile(rf"(?<![a-z0-9]){number}(?:\s*(?:{join})\s*{number})*(?![a-z0-9])")
    return _Vocab(
        stop=frozenset(stop),
        kinds=Lexicon(kinds),
        directions=Lexicon(directions),
        kind_words=frozenset(w.lower() for w, _ in kinds),
        numeral_re=numeral_re,
        marked_number_re=marked,
        markers=tuple(markers),
        joiners_re=re.compile(rf"\s*(?:{join})\s*"),
        not_labels=frozenset(not_labels),
        number_words=dict(number_words),
        free_number_re=free,
        area_suffixes=tuple(sorted(set(suffixes), key=len, reverse=True)),
        stop_chars=frozenset(stop_chars),
        links=tuple(links),
        prepositions=Lexicon((p, p) for p in preps),
        articles=frozenset(articles),
        place_nouns_latin=frozenset(n.lower() for n in nouns if not has_cjk(n)),
        place_nouns_cjk=Lexicon((n, n) for n in nouns if has_cjk(n)),
    )


def normalise(text: str) -> str:
    """Chinese numerals before 号/楼/层 as digits, keeping every offset (三号口 → 3号口, 二十三号 → 023号)."""
    pattern = _vocab().numeral_re
    if pattern is None or not has_cjk(text):
        return text

    def digits(match: re.Match[str]) -> str:
        try:
            value = str(cn2an.cn2an(match.group(0), "smart"))
        except (ValueError, KeyError):
            return match.group(0)
        width = len(match.group(0))
        return value.rjust(width, "0") if len(value) <= width else match.group(0)

    return pattern.sub(digits, text)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+(?:'[a-z]+)?", text)]


# ---- reading one text: the same reader for requests and for registry names ----


@dataclass
class _Reading:
    cameras: list[Hit]
    areas: list[Hit]
    numbers: list[Hit]  # value: frozenset of labels ("3", "b")
    directions: list[Hit]  # value: direction
    kinds: list[Hit]  # value: kind
    scanner: Scanner

    @property
    def anchored(self) -> bool:
        return bool(self.cameras or self.areas or self.numbers or self.kinds)

    def spans(self) -> list[tuple[int, int]]:
        hits = [*self.cameras, *self.areas, *self.numbers, *self.directions, *self.kinds]
        return sorted((h.start, h.end) for h in hits)


def _read(text: str, skip: Iterable[tuple[int, int]], camera_lex: Lexicon | None, area_lex: Lexicon) -> _Reading:
    vocab = _vocab()
    scanner = Scanner(normalise(text), skip)
    cameras = scanner.find(camera_lex) if camera_lex is not None else []
    areas = scanner.find(area_lex)
    numbers: list[Hit] = []
    if vocab.marked_number_re is not None:
        for m in vocab.marked_number_re.finditer(scanner.work):
            numbers.append(Hit(m.start(), m.end(), _labels(m.group(1)), text[m.start() : m.end()]))
        scanner.consume((h.start, h.end) for h in numbers)
    dirs = scanner.find(vocab.directions, consume=False)
    raw_kinds = scanner.find(vocab.kinds, consume=False)
    numbers += _letters(scanner, raw_kinds, vocab.markers)
    kinds: list[Hit] = []
    for hit in raw_kinds:
        kind, qualified = hit.value
        if qualified and not _qualified(scanner.lowered, hit.start, dirs, numbers, vocab.links):
            continue
        kinds.append(Hit(hit.start, hit.end, kind, hit.surface))
    directions: list[Hit] = []
    for hit in dirs:
        direction, bound = hit.value
        if any(_overlaps(hit, k) for k in raw_kinds):
            continue
        linked = scanner.lowered[hit.end : hit.end + 1] in vocab.links
        if bound and not linked and not any(_adjacent(scanner.lowered, hit.end, k.start, vocab.links) for k in kinds):
            continue
        directions.append(Hit(hit.start, hit.end, direction, hit.surface))
    scanner.consume((h.start, h.end) for h in [*kinds, *directions])
    free_numbers = []
    for m in vocab.free_number_re.finditer(scanner.work):
        low = scanner.lowered
        if any(_adjacent(low, k.end, m.start(), ()) or _adjacent(low, m.end(), k.start, ()) for k in kinds):
            free_numbers.append(Hit(m.start(), m.end(), _labels(m.group(0)), text[m.start() : m.end()]))
    scanner.consume((h.start, h.end) for h in free_numbers)
    return _Reading(cameras, areas, numbers + free_numbers, directions, kinds, scanner)


def _labels(group: str) -> frozenset[str]:
    """Numbers of a phrase as labels ("exits 1 and 02" → {"1", "2"}, "gate two" → {"2"})."""
    spelled = _vocab().number_words
    words = re.findall(r"\d+|[a-z]+", group.lower())
    return frozenset(str(int(w)) if w.isdigit() else str(spelled[w]) for w in words if w.isdigit() or w in spelled)


def _letters(scanner: Scanner, kinds: list[Hit], markers: Sequence[str]) -> list[Hit]:
    """Capital letters that label a place next to its kind word: "Exit B", "A口", "C号楼".

    A Latin kind word comes before its letter, a Chinese one after it.
    """
    vocab = _vocab()
    found: list[Hit] = []
    for m in re.finditer(r"(?<![A-Za-z0-9])[A-Z](?![A-Za-z0-9])", scanner.text):
        if scanner.work[m.start()] == BLANK or m.group(0) in vocab.not_labels:
            continue
        joined = bool(found) and vocab.joiners_re.fullmatch(scanner.lowered[found[-1].end : m.start()])
        for kind in kinds:
            before = has_cjk(kind.surface) and _adjacent(scanner.lowered, m.end(), kind.start, markers)
            after = not has_cjk(kind.surface) and _adjacent(scanner.lowered, kind.end, m.start(), ())
            if before or after or joined:
                found.append(Hit(m.start(), m.end(), frozenset({m.group(0).lower()}), m.group(0)))
                break
    scanner.consume((h.start, h.end) for h in found)
    return found


def _overlaps(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _adjacent(text: str, end: int, start: int, links: Sequence[str]) -> bool:
    """Only white space (or one link word) between ``end`` and ``start`` in the text as written."""
    if start < end:
        return False
    gap = text[end:start].strip()
    return gap == "" or gap in links


def _qualified(text: str, start: int, dirs: list[Hit], numbers: list[Hit], links: Sequence[str]) -> bool:
    return any(_adjacent(text, h.end, start, links) for h in [*dirs, *numbers])


# ---- the registry, read once ----


@dataclass(frozen=True)
class _Profile:
    camera: Camera
    primary: frozenset[str]
    kinds: frozenset[str]
    directions: frozenset[str]
    numbers: frozenset[str]
    words: frozenset[str]


@dataclass(frozen=True)
class _Index:
    profiles: tuple[_Profile, ...]
    camera_lex: Lexicon
    area_lex: Lexicon
    area_kinds: dict[str, frozenset[str]]
    word_lex: Lexicon


def _strings(camera: Camera) -> list[str]:
    return [camera.name_en, camera.name_zh, *camera.aliases]


@lru_cache(maxsize=8)
def _index(registry: Registry) -> _Index:
    """Area phrases, camera phrases and camera profiles of a registry (built once per registry)."""
    vocab = _vocab()
    areas: dict[str, tuple[str, str]] = {c.area: (c.area, c.area_zh) for c in registry.cameras}
    area_tokens = {a: {t for t, _, _ in _tokens(a.lower())} - vocab.stop for a in areas}
    phrases: dict[str, set[str]] = {}

    def add(phrase: str, area: str, alone: bool = False) -> None:
        """``alone``: a short form that names the area only if it does not describe a person."""
        if not (alone and is_person_word(phrase)):
            phrases.setdefault(normalise(phrase.lower()), set()).add(area)

    suffix_owners: dict[str, set[str]] = {}
    for area, (en, zh) in areas.items():
        add(en, area)
        add(zh, area)
        for suffix in vocab.area_suffixes:
            if zh.endswith(suffix) and len(zh) - len(suffix) >= 2:
                add(zh[: -len(suffix)], area, alone=True)
                suffix_owners.setdefault(suffix, set()).add(area)
                break
        core = [t for t, _, _ in _tokens(en.lower()) if t not in vocab.stop and t not in vocab.kind_words]
        if core:
            add(" ".join(core), area, alone=True)
        for token in area_tokens[area]:
            owners = [a for a, toks in area_tokens.items() if token in toks]
            if len(owners) == 1 and len(token) >= 3 and not token.isdigit() and token not in vocab.kind_words:
                add(token, area, alone=True)
    for suffix, owners in suffix_owners.items():
        if len(owners) == 1 and len(suffix) >= 2 and suffix not in vocab.kind_words:
            add(suffix, next(iter(owners)), alone=True)
    area_lex = Lexicon((p, frozenset(a)) for p, a in phrases.items() if p)
    area_kinds = {
        area: frozenset(h.value for text in names for h in _read(text, (), None, Lexicon(())).kinds)
        for area, names in areas.items()
    }
    camera_phrases: dict[str, set[str]] = {}
    profiles = []
    for camera in registry.cameras:
        for text in _strings(camera):
            for phrase in (text, _stem(text, set(phrases))):
                if phrase:
                    camera_phrases.setdefault(normalise(phrase.lower()), set()).add(camera.id)
        profiles.append(_profile(camera, area_lex))
    camera_lex = Lexicon((p, frozenset(ids)) for p, ids in camera_phrases.items() if p)
    word_lex = Lexicon((w, w) for p in profiles for w in p.words)
    return _Index(tuple(profiles), camera_lex, area_lex, area_kinds, word_lex)


def _stem(name: str, area_phrases: set[str]) -> str | None:
    """A Chinese name without its closing kind word ("二中门口" → "二中"), unless that is an area name."""
    if not has_cjk(name):
        return None
    strong = [w for w, (_, qualified) in zip(_vocab().kinds.phrases, _vocab().kinds.values, strict=True)
              if not qualified and has_cjk(w)]
    for word in sorted(strong, key=len, reverse=True):
        stem = name[: -len(word)]
        if name.endswith(word) and len(stem) >= 2 and stem.lower() not in area_phrases:
            return stem
    return None


def _profile(camera: Camera, area_lex: Lexicon) -> _Profile:
    vocab = _vocab()
    kind_reading = _read(" ".join(camera.kind.split("_")), (), None, area_lex)
    primary = frozenset(h.value for h in kind_reading.kinds if h.value)
    kinds, directions, numbers, words = set(primary), set(), set(), set()
    for text in _strings(camera):
        reading = _read(text, (), None, area_lex)
        kinds.update(h.value for h in reading.kinds if h.value)
        directions.update(h.value for h in reading.directions)
        for hit in reading.numbers:
            numbers.update(hit.value)
        rest = reading.scanner.work
        if has_cjk(text):  # "人民路与解放路" → 人民路, 解放路: stop characters separate name words
            for part in re.split(f"[{re.escape(''.join(vocab.stop_chars))}]", rest) if vocab.stop_chars else [rest]:
                words.update(re.findall(r"[\u4e00-\u9fff]{2,}", part))
        else:
            words.update(t for t, _, _ in _tokens(rest) if len(t) >= 2 and not t.isdigit() and t not in vocab.stop)
    return _Profile(camera, primary or frozenset(kinds), frozenset(kinds), frozenset(directions), frozenset(numbers),
                    frozenset(words))


# ---- grounding ----


def ground(
    text: str, registry: Registry, within: Sequence[str] = (), skip: Sequence[tuple[int, int]] = ()
) -> PlaceMatch:
    """The cameras a request's place words mean.

    ``within`` (the current filter's cameras, in a follow-up) resolves an
    ambiguous phrase to its matches in the current area; ``skip`` are spans
    already consumed (time words).
    """
    index = _index(registry)
    reading = _read(text, skip, index.camera_lex, index.area_lex)
    if not (reading.cameras or reading.areas):
        phrase = _unknown_place(text, reading.scanner, reading.kinds)
        if phrase is not None or not reading.anchored:
            named = _named_by_words(text, index, reading.scanner)
            if named.cameras or phrase is None:
                return named
            return PlaceMatch(place_text=phrase, unresolved=phrase)
    areas = sorted({a for h in reading.areas for a in h.value})
    chosen, word_spans = _select(index, reading, areas, set(within))
    spans = sorted(reading.spans() + word_spans)
    place_text = _place_text(text, spans)
    unresolved = place_text if not chosen else None
    return PlaceMatch(sorted(chosen), place_text, spans, unresolved, areas)


def _named_by_words(text: str, index: _Index, scanner: Scanner) -> PlaceMatch:
    """Cameras named only by words of their names: at least two of one camera's ("ticket office"), or
    one proper name that only one area's cameras have ("Jiefang Road", "解放路", "the ER entrance")."""
    hits = scanner.find(index.word_lex, consume=False)
    said = {h.value for h in hits}
    scored = [(len(said & p.words), p) for p in index.profiles]
    best = max((s for s, _ in scored), default=0)
    chosen = [p for s, p in scored if s == best]
    proper = {h.value for h in hits if has_cjk(h.surface) or h.surface[:1].isupper()}
    one_area = len({p.camera.area for p in chosen}) == 1
    if best == 0 or (best < MIN_NAME_WORDS and not (one_area and all(said & p.words <= proper for p in chosen))):
        return PlaceMatch()
    used = set().union(*(p.words for p in chosen)) & said
    spans = sorted((h.start, h.end) for h in hits if h.value in used)
    return PlaceMatch(sorted(p.camera.id for p in chosen), _place_text(text, spans), spans)


def _select(
    index: _Index, reading: _Reading, areas: list[str], within: set[str]
) -> tuple[set[str], list[tuple[int, int]]]:
    if reading.cameras:
        named = {c for h in reading.cameras for c in h.value}
        in_area = {p.camera.id for p in index.profiles if p.camera.id in named and p.camera.area in areas}
        return in_area or named, []
    candidates = [p for p in index.profiles if not areas or p.camera.area in areas]
    numbers = {n for h in reading.numbers for n in h.value}
    if numbers:
        candidates = [p for p in candidates if p.numbers & numbers]
    directions = {h.value for h in reading.directions}
    if directions:
        candidates = [p for p in candidates if p.directions & directions]
    kinds = {h.value for h in reading.kinds if h.value} - {k for a in areas for k in index.area_kinds.get(a, ())}
    if kinds:
        scored = [((len(kinds & p.primary), len(kinds & p.kinds)), p) for p in candidates]
        best = max((s for s, _ in scored), default=(0, 0))
        candidates = [p for s, p in scored if s == best and best != (0, 0)]
    if not areas and within:
        current_areas = {p.camera.area for p in index.profiles if p.camera.id in within}
        preferred = [p for p in candidates if p.camera.area in current_areas]
        candidates = preferred or candidates
    word_hits = reading.scanner.find(index.word_lex, consume=False)
    spans: list[tuple[int, int]] = []
    if word_hits and len(candidates) > 1:
        said = {h.value for h in word_hits}
        scored_words = [(len(said & p.words), p) for p in candidates]
        best_words = max(s for s, _ in scored_words)
        if best_words:
            candidates = [p for s, p in scored_words if s == best_words]
            used = set().union(*(p.words for p in candidates)) & said
            spans = [(h.start, h.end) for h in word_hits if h.value in used]
    return {p.camera.id for p in candidates}, spans


def _place_text(text: str, spans: list[tuple[int, int]]) -> str | None:
    if not spans:
        return None
    start, end = spans[0][0], max(e for _, e in spans)
    covering = text[start:end].strip()
    if len(covering) <= MAX_PLACE_TEXT:
        return covering
    return " ".join(text[s:e] for s, e in spans)


def _unknown_place(text: str, scanner: Scanner, kinds: list[Hit]) -> str | None:
    """A phrase that looks like a place the registry lacks ("at the Xinhua bookstore", "新华书店门口")."""
    vocab = _vocab()
    work = scanner.work
    best: tuple[int, int] | None = None
    for hit in scanner.find(vocab.place_nouns_cjk, consume=False):
        start = hit.start
        while start > 0 and is_cjk(work[start - 1]) and work[start - 1] not in vocab.stop_chars:
            start -= 1
        if hit.start - start >= 2 and (best is None or hit.end - start > best[1] - best[0]):
            best = (start, hit.end)
    if best is not None:
        start, end = best
        while following := [k.end for k in kinds if k.start == end]:
            end = following[0]
        return text[start:end]
    for prep in scanner.find(vocab.prepositions, consume=False):
        words: list[tuple[int, int]] = []
        previous = prep.end
        for m in re.finditer(r"\S+", work[prep.end :]):
            start, end = prep.end + m.start(), prep.end + m.end()
            word, original = m.group(0).strip(".,;:!?"), text[start:end]
            if text[previous:start].strip():
                break
            previous = end
            if not words and word in vocab.articles:
                continue
            if not (original[:1].isupper() or word in vocab.place_nouns_latin):
                break
            words.append((start, start + len(original.rstrip(".,;:!?"))))
            if original[-1:] in ".,;:!?":
                break
        if words:
            return text[words[0][0] : words[-1][1]]
    return None
