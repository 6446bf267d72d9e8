"""The phrase matcher under places and attributes."""

from __future__ import annotations

from assistant.lexicon import Lexicon, Scanner


def test_latin_phrases_match_whole_words_with_plurals_and_separators() -> None:
    lex = Lexicon([("t-shirt", "tee"), ("shirt", "shirt"), ("backpack", "bag"), ("yan'an road", "road")])
    found = Scanner("Two T shirts, a shirt, backpacks near Yanan Road").find(lex)
    assert [h.value for h in found] == ["tee", "shirt", "bag", "road"]
    assert Scanner("shirtless").find(lex) == []


def test_chinese_phrases_match_leftmost_longest() -> None:
    lex = Lexicon([("长发", "long"), ("中长发", "medium"), ("发", "hair")])
    assert [h.value for h in Scanner("中长发女士").find(lex)] == ["medium"]


def test_consumed_and_skipped_text_is_not_matched_again() -> None:
    lex = Lexicon([("red", "red")])
    scanner = Scanner("red and red", skip=[(0, 3)])
    hits = scanner.find(lex)
    assert [(h.start, h.end) for h in hits] == [(8, 11)]
    assert scanner.find(lex) == []


def test_offsets_survive_letters_that_lower_to_two_characters() -> None:
    hits = Scanner("İstanbul red").find(Lexicon([("red", 1)]))
    assert [(h.start, h.surface) for h in hits] == [(9, "red")]


def test_membership_knows_plurals() -> None:
    lex = Lexicon([("cap", "hat"), ("帽子", "hat")])
    assert "caps" in lex and "帽子" in lex
    assert "capital" not in lex and "" not in lex
