"""Person attributes from a request: the closed vocabulary of ``query-schema.md``.

Vocabulary is data (``lang/*/attributes.toml``); this code names no language.
A request is read as a sequence of mentions (colours, garments, flags like
glasses or mask, hair, sleeves, vehicles, people nouns, and cues). Colours bind
to the noun right after them ("red jacket and black trousers", "白色短袖衬衫"),
or before them with a copula ("the jacket was blue"); a colour with no garment
is ``upper_color``; colours of bags, hats, helmets, shoes and hair go nowhere.
Negation cues set flags false ("no hat", "没戴口罩"); removal cues drop keys
("forget the glasses", "不限眼镜", "眼镜不限"). :func:`describe` writes the
English description used when no LLM is available.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from assistant.filters import FLAG_KEYS
from assistant.lexicon import Hit, Lexicon, Scanner, lang_data

NOUNS = frozenset({"upper", "lower", "sink", "flag", "hair", "hair_noun", "vehicle"})
"""Mention types a colour can bind to; only ``upper``/``lower`` keep it."""
GARMENTS = frozenset({"upper", "lower"})
MODIFIERS = frozenset({"sleeve", "hair_length"})
"""Mentions that may stand between a colour and its noun ("white short-sleeve shirt", "black long hair")."""
COLOUR_TYPES = frozenset({"colour", "bound_colour"})
SCOPED = frozenset({"negation", "removal"})
REMOVAL_CUES = frozenset({"removal", "removal_after"})
SCOPE_REACH = {
    "negation": frozenset({"flag", "colour", "bound_colour"}),
    "removal": NOUNS | COLOUR_TYPES | {"sleeve", "key"},
}
"""Mention types a cue carries over to: "no hat or glasses", not "没戴口罩的男子"."""
DESCRIPTION_LANG = "en"
"""The description feeds the CLIP text encoder, which is English (query-schema.md)."""


@dataclass(frozen=True)
class AttributeMatch:
    """Attributes found in a request.

    ``values`` are valid for :class:`assistant.filters.Attributes` (flags set
    false where negated); ``removed`` keys the officer asked to drop; ``negated``
    the flags explicitly absent; ``spans`` the consumed character ranges, and
    ``removed_spans`` those of the removed mentions and their cues.
    """

    values: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    removed_spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Vocab:
    mentions: Lexicon  # value: (type, payload)
    fillers: re.Pattern[str]
    colour_joiners: re.Pattern[str]
    colour_gap: re.Pattern[str]
    copulas: re.Pattern[str]
    after_garment: re.Pattern[str]


def _words_pattern(words: Sequence[str]) -> re.Pattern[str]:
    """Full match of a gap made only of these words (and white space/punctuation-free joins)."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word.lower())
        parts.append(rf"(?<![a-z]){escaped}(?![a-z])" if word[:1].isascii() and word[:1].isalpha() else escaped)
    body = "|".join(parts) if parts else "(?!)"
    return re.compile(rf"(?:\s+|{body})*")


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    entries: list[tuple[str, tuple[str, Any]]] = []
    fillers: list[str] = []
    joiners: list[str] = []
    gap: list[str] = []
    copulas: list[str] = []
    after: list[str] = []
    for data in lang_data("attributes").values():
        for kind, table in (("colour", "colours"), ("bound_colour", "bound_colours"), ("upper", "upper"),
                            ("lower", "lower"), ("sink", "sinks"), ("flag", "flags"), ("hair", "hair"),
                            ("sleeve", "sleeve"), ("vehicle", "vehicle"), ("key", "keys"),
                            ("hair_length", "hair_lengths"), ("hair_noun", "hair_nouns")):
            for value, words in data.get(table, {}).items():
                entries += [(w, (kind, value)) for w in words]
        entries += [(w, ("people", dict(v))) for w, v in data.get("people", {}).items()]
        cues = data.get("cues", {})
        entries += [(w, ("negation", None)) for w in cues.get("negation", [])]
        entries += [(w, ("removal", None)) for w in cues.get("removal", [])]
        entries += [(w, ("removal_after", None)) for w in cues.get("removal_after", [])]
        fillers += cues.get("fillers", [])
        joiners += cues.get("colour_joiners", [])
        gap += cues.get("colour_gap", [])
        copulas += cues.get("copulas", [])
        after += cues.get("after_garment", [])
    return _Vocab(Lexicon(entries), _words_pattern(fillers), _words_pattern(joiners), _words_pattern(gap),
                  _words_pattern(copulas), _words_pattern(after))


def is_person_word(phrase: str) -> bool:
    """Whether a phrase describes a person ("red", "cap", "女士"): such a word never names a place alone."""
    return phrase in _vocab().mentions


def _gap(scanner: Scanner, a: Hit, b: Hit) -> str:
    return scanner.lowered[a.end : b.start]


def extract(text: str, skip: Sequence[tuple[int, int]] = ()) -> AttributeMatch:
    """The attributes a request constrains, ignoring the ``skip`` spans (time and place words)."""
    vocab = _vocab()
    scanner = Scanner(text, skip)
    found = scanner.find(vocab.mentions)
    hits = [h for i, h in enumerate(found) if _stands(scanner, found, i, vocab)]
    scope = _scopes(scanner, hits, vocab)
    values: dict[str, Any] = {}
    removed: list[str] = []
    negated: list[str] = []
    colours = _bind_colours(scanner, hits, scope, vocab)
    for i, hit in enumerate(hits):
        kind, payload = hit.value
        cue = scope.get(i)
        keys = _keys(kind, payload)
        if cue == "removal":
            removed += [k for k in keys if k not in removed]
            for k in keys:
                values.pop(k, None)
            continue
        if kind == "flag":
            values[payload] = cue != "negation"
            if cue == "negation" and payload not in negated:
                negated.append(payload)
        elif cue == "negation":
            continue
        elif kind == "people":
            values.update(payload)
        elif kind in ("hair", "sleeve", "vehicle"):
            values[kind] = payload
        elif kind == "hair_length":
            values["hair"] = payload
        elif kind in ("upper", "lower") and payload and f"{kind}_garment" not in values:
            values[f"{kind}_garment"] = payload
    for key, found_colours in colours.items():
        if found_colours:
            values[key] = found_colours
    removed = [k for k in removed if k not in values]  # "forget the jacket, it was a coat"
    removal_hits = [h for i, h in enumerate(hits) if scope.get(i) == "removal" or h.value[0] in REMOVAL_CUES]
    return AttributeMatch(values, removed, negated, [(h.start, h.end) for h in hits],
                          [(h.start, h.end) for h in removal_hits])


def _keys(kind: str, payload: Any) -> list[str]:
    """The attribute keys a mention speaks about (for removal)."""
    if kind == "flag":
        return [payload]
    if kind in ("hair", "sleeve", "vehicle"):
        return [kind]
    if kind == "hair_length":
        return ["hair"]
    if kind in ("upper", "lower"):
        return [f"{kind}_garment", f"{kind}_color"]
    if kind == "people":
        return list(payload)
    if kind == "key":
        return [payload, "lower_color"] if payload == "upper_color" else [payload]
    return []


def _stands(scanner: Scanner, hits: list[Hit], i: int, vocab: _Vocab) -> bool:
    """Whether a mention counts: a one-character colour only right before its noun, maybe via other
    colours ("黑白条纹上衣"); a hair length only before "hair" ("long black hair")."""
    kind = hits[i].value[0]
    if kind not in ("bound_colour", "hair_length"):
        return True
    j = i + 1
    while j < len(hits) and hits[j].value[0] in COLOUR_TYPES and (
        hits[j].start == hits[j - 1].end or vocab.colour_joiners.fullmatch(_gap(scanner, hits[j - 1], hits[j]))
    ):
        j += 1
    wanted = NOUNS if kind == "bound_colour" else {"hair_noun"}
    return (j < len(hits) and hits[j].value[0] in wanted
            and bool(vocab.colour_gap.fullmatch(_gap(scanner, hits[j - 1], hits[j]))))


def _scopes(scanner: Scanner, hits: list[Hit], vocab: _Vocab) -> dict[int, str]:
    """Which mentions fall under a negation or removal cue (index → cue type)."""
    scope: dict[int, str] = {}
    for k, cue in enumerate(hits):
        kind = cue.value[0]
        if kind not in SCOPED and kind != "removal_after":
            continue
        covered = []
        if kind in SCOPED:
            m = k + 1
            while m < len(hits) and hits[m].value[0] in SCOPE_REACH[kind]:
                gap = _gap(scanner, hits[m - 1], hits[m])
                if not vocab.fillers.fullmatch(gap):
                    break
                if kind == "negation" and hits[m].value[0] in COLOUR_TYPES and (m != k + 1 or gap.strip()):
                    break  # "not red", "不是蓝色"; but in "没戴口罩穿黑色短袖" the colour is worn
                covered.append(m)
                m += 1
        if not covered and kind != "negation" and k > 0 and vocab.fillers.fullmatch(_gap(scanner, hits[k - 1], cue)):
            covered.append(k - 1)
        for m in covered:
            scope[m] = "removal" if kind == "removal_after" else kind
    return scope


def _bind_colours(scanner: Scanner, hits: list[Hit], scope: dict[int, str], vocab: _Vocab) -> dict[str, list[str]]:
    """Colour groups → ``upper_color``/``lower_color`` by the noun they describe."""
    out: dict[str, list[str]] = {"upper_color": [], "lower_color": []}
    i = 0
    while i < len(hits):
        if hits[i].value[0] not in COLOUR_TYPES:
            i += 1
            continue
        group = [i]
        while (
            group[-1] + 1 < len(hits)
            and hits[group[-1] + 1].value[0] in COLOUR_TYPES
            and (vocab.colour_joiners.fullmatch(_gap(scanner, hits[group[-1]], hits[group[-1] + 1]))
                 or hits[group[-1] + 1].start == hits[group[-1]].end)
        ):
            group.append(group[-1] + 1)
        i = group[-1] + 1
        if any(scope.get(g) == "negation" for g in group):
            continue
        target = _target(scanner, hits, group, vocab)
        side = {"upper": "upper_color", "lower": "lower_color", None: "upper_color"}.get(target)
        if side is None or any(scope.get(g) == "removal" for g in group):
            continue
        for g in group:
            colour = hits[g].value[1]
            if colour and colour not in out[side]:
                out[side].append(colour)
    return out


def _target(scanner: Scanner, hits: list[Hit], group: list[int], vocab: _Vocab) -> str | None:
    """The noun type a colour group describes; ``None`` when it has none (then it is the top)."""
    j, last = group[-1] + 1, hits[group[-1]]
    while j < len(hits) and vocab.colour_gap.fullmatch(_gap(scanner, last, hits[j])):
        if hits[j].value[0] not in MODIFIERS:
            break
        last, j = hits[j], j + 1
    if j < len(hits) and hits[j].value[0] in NOUNS and vocab.colour_gap.fullmatch(_gap(scanner, last, hits[j])):
        return hits[j].value[0]
    first = group[0]
    if first > 0 and hits[first - 1].value[0] in NOUNS:
        noun = hits[first - 1].value[0]
        gap = _gap(scanner, hits[first - 1], hits[first]).strip()
        if gap and vocab.copulas.fullmatch(gap):
            return noun  # "the jacket was blue"
        if noun in GARMENTS and vocab.after_garment.fullmatch(gap):
            return noun  # "trousers in black", "上衣红色"
    return None


# ---- the English description (no LLM) ----


@lru_cache(maxsize=1)
def _description_words() -> dict[str, Any]:
    return lang_data("description")[DESCRIPTION_LANG]


def describe(values: dict[str, Any]) -> str | None:
    """English description of the attributes, e.g. "a woman with medium-length hair wearing a white top"."""
    if not values:
        return None
    d = _description_words()
    w = d["words"]
    age, gender = values.get("age"), values.get("gender")
    subject_keys = [f"{age}.{gender}", str(age), str(gender), "default"]
    subject = next(d["subject"][k] for k in subject_keys if k in d["subject"])
    worn: list[str] = []
    for side in ("upper", "lower"):
        colours, garment = values.get(f"{side}_color"), values.get(f"{side}_garment")
        if not colours and not garment:
            continue
        noun = d[f"{side}_garment"][garment] if garment else w[f"{side}_generic"]
        words = [d["sleeve"][values["sleeve"]]] if side == "upper" and values.get("sleeve") else []
        if colours:
            words.append(w["colour_join"].join(colours))
        phrase = " ".join([*words, noun])
        if noun not in d["plural"]["words"]:
            phrase = f"{w['article_vowel'] if phrase[0].lower() in w['vowels'] else w['article']} {phrase}"
        worn.append(phrase)
    carried: list[str] = []
    absent: list[str] = []
    for key in FLAG_KEYS:
        value = values.get(key)
        if value is True:
            (worn if key in d["worn"] else carried).append(d["worn"].get(key) or d["carried"][key])
        elif value is False:
            absent.append(d["absent"][key])
    parts = [subject]
    if values.get("hair"):
        parts.append(f"{w['with']} {d['hair'][values['hair']]}")
    if worn:
        parts.append(f"{w['wearing']} {_listing(worn, w)}")
    if carried:
        parts.append(f"{w['carrying']} {_listing(carried, w)}")
    if values.get("vehicle"):
        parts.append(d["vehicle"][values["vehicle"]])
    if absent:
        parts.append(f"{w['with']} {_listing(absent, w)}")
    return " ".join(parts)


def _listing(items: list[str], w: dict[str, str]) -> str:
    if len(items) == 1:
        return items[0]
    return w["separator"].join(items[:-1]) + w["last_separator"] + items[-1]
