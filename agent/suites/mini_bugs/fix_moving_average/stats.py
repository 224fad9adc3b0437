def moving_average(xs, k):
    """Averages of every window of k consecutive values of xs."""
    out = []
    for i in range(len(xs) - k):
        window = xs[i:i + k]
        out.append(sum(window) / len(xs))
    return out
