from textstats import word_counts


def test_case_insensitive():
    assert word_counts("the The") == {"the": 2}


def test_punctuation_and_spaces():
    assert word_counts("Hello,  hello world!") == {"hello": 2, "world": 1}


def test_newlines():
    assert word_counts("a\nb a") == {"a": 2, "b": 1}
