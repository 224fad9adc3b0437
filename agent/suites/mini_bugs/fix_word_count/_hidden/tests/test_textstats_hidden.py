"""Held-out cases (never in a workspace): word_counts' contract, written from its docstring."""

from textstats import word_counts


def test_punctuation_around_words():
    assert word_counts("Wow! wow? (wow)") == {"wow": 3}


def test_tabs_empty_text_and_bare_punctuation():
    assert word_counts("a\tb  a") == {"a": 2, "b": 1}
    assert word_counts("") == {}
    assert word_counts("hi --- there") == {"hi": 1, "there": 1}
