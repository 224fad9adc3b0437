def parse_query(qs):
    """Parse 'a=1&b=2' into {'a': '1', 'b': '2'}; a key without '=' maps to ''."""
    out = {}
    for part in qs.split("&"):
        if not part:
            continue
        if "=" not in part:
            out[part] = ""
            continue
        key, value = part.split("=")
        out[key] = value
    return out
