from helpers import normalize


def word_counts(text):
    """How often each word occurs, case- and punctuation-insensitive."""
    counts = {}
    for raw in text.split(" "):
        word = normalize(raw)
        counts[word] = counts.get(word, 0) + 1
    return counts
