def flatten(xs):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    out = []
    for x in xs:
        if isinstance(x, list):
            out.append(flatten(x))
        else:
            out.append(x)
    return out
