"""Held-out cases (never in a workspace): parse_query's contract, written from its docstring."""

from query import parse_query


def test_only_the_first_equals_splits():
    assert parse_query("a=b=c") == {"a": "b=c"}
    assert parse_query("expr=x==1&y=2") == {"expr": "x==1", "y": "2"}


def test_empty_values_and_trailing_separator():
    assert parse_query("k=&flag&") == {"k": "", "flag": ""}
    assert parse_query("") == {}
