from query import parse_query


def test_simple():
    assert parse_query("a=1&b=2") == {"a": "1", "b": "2"}


def test_flag_and_empty_parts():
    assert parse_query("debug&&x=1") == {"debug": "", "x": "1"}


def test_value_with_equals():
    assert parse_query("token=abc==&n=3") == {"token": "abc==", "n": "3"}
