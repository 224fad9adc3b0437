from tui.words import count


def test_counts_agree_with_their_nouns():
    assert count(1, "pair") == "1 pair"
    assert count(0, "pair") == "0 pairs"
    assert count(2, "live rollout") == "2 live rollouts"
    assert count(3, "batch") == "3 batches"
    assert count(1, "batch") == "1 batch"
