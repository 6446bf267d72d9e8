"""Finding vocabulary phrases in a request: the language-free matcher under places and attributes.

Vocabulary lives in ``assistant/lang/<lang>/<name>.toml``; :func:`lang_data`
loads every language's file of one name. A :class:`Scanner` finds phrases of
a :class:`Lexicon` in a text, longest first, and blanks what it consumed so a
later lexicon cannot match it again. Latin phrases match whole words (with
optional plural endings from the data and ``-``/space as interchangeable
separators); phrases with Chinese characters match as substrings.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

LANG_DIR = Path(__file__).resolve().parent / "lang"
BLANK = " "


def is_cjk(char: str) -> bool:
    """True for a CJK unified ideograph (Chinese character)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def has_cjk(text: str) -> bool:
    """True when the text contains at least one Chinese character."""
    return any(is_cjk(c) for c in text)


DEFAULT_LANG = "en"


def note(lang: str, key: str, **values: Any) -> str:
    """A message for the officer from ``lang/<lang>/notes.toml`` (English if that language has none)."""
    notes = lang_data("notes")
    words = notes.get(lang) or notes[DEFAULT_LANG]
    return words[key].format(**values)


@lru_cache(maxsize=16)
def lang_data(name: str) -> dict[str, dict[str, Any]]:
    """``{lang: data}`` from every ``assistant/lang/<lang>/<name>.toml`` (languages in name order)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in sorted(p for p in LANG_DIR.iterdir() if p.is_dir()):
        path = folder / f"{name}.toml"
        if path.exists():
            with path.open("rb") as handle:
                found[folder.name] = tomllib.load(handle)
    if not found:
        raise FileNotFoundError(f"no vocabulary file {name}.toml under {LANG_DIR}; reinstall the package data")
    return found


def plural_suffixes() -> tuple[str, ...]:
    """Word endings that make a plural in any language's data (``lexicon.toml: plural_suffixes``)."""
    out: list[str] = []
    for data in lang_data("lexicon").values():
        out.extend(data.get("plural_suffixes", []))
    return tuple(dict.fromkeys(out))


SEPARATORS = re.compile(r"[\s\-.,/]+")
LATIN_TOKEN = re.compile(r"[a-z0-9#]+(?:'[a-z]+)*")
MAX_TOKEN_GAP = 3
"""Latin phrase words may be this many characters apart ("t-shirt", "no. 2", "medium - long")."""


def _joined(work: str, end: int, start: int) -> bool:
    """Two words of one phrase: only a short run of separators between them."""
    return start - end <= MAX_TOKEN_GAP and not work[end:start].strip(" -.,/")


def _latin_key(phrase: str) -> tuple[str, ...]:
    return tuple(w.replace("'", "") for w in SEPARATORS.split(phrase) if w)


@dataclass(frozen=True)
class Hit:
    """One phrase found in the text: where, what it means, and how it was written."""

    start: int
    end: int
    value: Any
    surface: str


class Lexicon:
    """A set of phrases, each with a value, indexed for leftmost-longest matching.

    Phrases with Chinese characters match as substrings; Latin phrases match
    whole words, with ``-``/space/``.`` as interchangeable separators, optional
    apostrophes and optional plural endings (``lexicon.toml``).
    """

    def __init__(self, entries: Iterable[tuple[str, Any]]) -> None:
        by_phrase: dict[str, Any] = {}
        for phrase, value in entries:
            key = phrase.strip().lower()
            if key and key not in by_phrase:
                by_phrase[key] = value
        self.phrases = sorted(by_phrase, key=lambda p: (-len(p), p))
        self.values = [by_phrase[p] for p in self.phrases]
        self.substrings: dict[str, Any] = {}
        self.words: dict[tuple[str, ...], Any] = {}
        for phrase in self.phrases:
            if has_cjk(phrase):
                self.substrings[phrase] = by_phrase[phrase]
            elif key := _latin_key(phrase):
                self.words.setdefault(key, by_phrase[phrase])
        self.substring_lengths = sorted({len(p) for p in self.substrings}, reverse=True)
        self.max_words = max((len(k) for k in self.words), default=0)
        self.suffixes = plural_suffixes()

    def __len__(self) -> int:
        return len(self.phrases)

    def __contains__(self, phrase: object) -> bool:
        """Whether this exact phrase (or its plural) is in the lexicon."""
        if not isinstance(phrase, str) or not phrase.strip():
            return False
        key = phrase.strip().lower()
        if has_cjk(key):
            return key in self.substrings
        words = _latin_key(key)
        return bool(words) and self._word_value(words)[0]

    def _word_value(self, words: tuple[str, ...]) -> tuple[bool, Any]:
        if words in self.words:
            return True, self.words[words]
        last = words[-1]
        for suffix in self.suffixes:
            if last.endswith(suffix) and len(last) > len(suffix):
                base = (*words[:-1], last[: -len(suffix)])
                if base in self.words and base[-1][-1:].isalpha():
                    return True, self.words[base]
        return False, None

    def candidates(self, work: str) -> list[tuple[int, int, Any]]:
        """Every (start, end, value) this lexicon can match in ``work`` (overlapping)."""
        found: list[tuple[int, int, Any]] = []
        if self.substrings:
            for i, char in enumerate(work):
                if char == BLANK:
                    continue
                for length in self.substring_lengths:
                    piece = work[i : i + length]
                    if len(piece) == length and piece in self.substrings:
                        found.append((i, i + length, self.substrings[piece]))
                        break
        if self.words:
            tokens = [_token(m) for m in LATIN_TOKEN.finditer(work)]
            for i, (_, start, _) in enumerate(tokens):
                if start > 0 and work[start - 1].isalnum() and work[start - 1].isascii():
                    continue
                for n in range(min(self.max_words, len(tokens) - i), 0, -1):
                    span = tokens[i : i + n]
                    if not all(_joined(work, a[2], b[1]) for a, b in pairwise(span)):
                        continue
                    ok, value = self._word_value(tuple(t for t, _, _ in span))
                    if ok:
                        end = span[-1][2]
                        found.append((start, end, value))
                        break
        return found


def _token(match: re.Match[str]) -> tuple[str, int, int]:
    """A Latin word without apostrophes ("yan'an" → "yanan"); a possessive "'s" is not part of it."""
    word, end = match.group(0), match.end()
    if word.endswith("'s"):
        word, end = word[:-2], end - 2
    return word.replace("'", ""), match.start(), end


def _lower(char: str) -> str:
    """Lower case (and full-width forms as ASCII) keeping every offset."""
    if char == "\u2019":
        return "'"
    low = unicodedata.normalize("NFKC", char).lower()
    return low if len(low) == 1 else char


class Scanner:
    """A request being read: finds lexicon phrases in what is not yet consumed."""

    def __init__(self, text: str, skip: Iterable[tuple[int, int]] = ()) -> None:
        self.text = text
        self.lowered = "".join(_lower(c) for c in text)
        chars = list(self.lowered)
        for start, end in skip:
            for i in range(max(start, 0), min(end, len(chars))):
                chars[i] = BLANK
        self.work = "".join(chars)

    def find(self, lexicon: Lexicon, consume: bool = True) -> list[Hit]:
        """Every non-overlapping occurrence of the lexicon's phrases, leftmost and longest first."""
        hits: list[Hit] = []
        taken = 0
        for start, end, value in sorted(lexicon.candidates(self.work), key=lambda c: (c[0], -c[1])):
            if start >= taken:
                hits.append(Hit(start, end, value, self.text[start:end]))
                taken = end
        if consume:
            self.consume((h.start, h.end) for h in hits)
        return hits

    def consume(self, spans: Iterable[tuple[int, int]]) -> None:
        """Blank these spans so no later lexicon matches them."""
        chars = list(self.work)
        for start, end in spans:
            for i in range(start, end):
                chars[i] = BLANK
        self.work = "".join(chars)
