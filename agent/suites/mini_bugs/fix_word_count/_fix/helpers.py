import string


def normalize(word):
    """'Hello,' -> 'hello'."""
    return word.strip(string.punctuation).lower()
