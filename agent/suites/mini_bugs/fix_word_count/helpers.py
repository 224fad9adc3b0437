def normalize(word):
    """'Hello,' -> 'hello'."""
    return word.lower()
