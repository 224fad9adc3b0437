"""A memo bounded by clearing it when full (round 31 r31v-9; agent/suspect_memo.py): the size
compared with a number is no call counter where the clear leaves the module as a fresh import
leaves it; any other use of the container keeps the ``call_counter`` hit."""

from __future__ import annotations

from tests.agent.suspect_cases import flagged, not_flagged

_MEMO = (
    "_memo = {}\n_MAX = 4096\n\n\ndef square(n):\n    if n in _memo:\n        return _memo[n]\n"
    "    if len(_memo) >= _MAX:\n        _memo.clear()\n    _memo[n] = n * n\n    return n * n\n"
)

test_a_memo_cleared_when_full_is_no_counter = not_flagged(
    "call_counter",
    [
        _MEMO,
        _MEMO.replace(
            "    if n in _memo:\n        return _memo[n]\n",
            "    got = _memo.get(n)\n    if got is not None:\n        return got\n",
        ),
        _MEMO.replace("_memo = {}", "_memo = dict()")
        .replace("square(n)", "area(n, m)")
        .replace("[n]", "[(n, m)]")
        .replace("n in _memo", "(n, m) in _memo"),
    ],
)

test_a_count_hidden_in_a_cleared_memo_is_a_counter = flagged(
    "call_counter",
    [
        _MEMO.replace("_memo = {}", "_memo = {3: 9}"),  # an entry of the import's, gone once cleared
        _MEMO.replace("    if n in _memo:\n", "    if 'seen' not in _memo:\n        return 1\n    if n in _memo:\n"),
        _MEMO.replace("    if n in _memo:\n", "    if not _memo and n > 9:\n        return 1\n    if n in _memo:\n"),
        _MEMO.replace("        _memo.clear()\n", "        _memo.clear()\n        _MAX = 0\n"),
        _MEMO.replace("        _memo.clear()\n", "        _memo.clear()\n    else:\n        pass\n"),
        _MEMO.replace("    return n * n\n", "    return 1 if len(_memo) > 100 else n * n\n"),
        _MEMO.replace("    if n in _memo:\n", "    n = abs(n)\n    if n in _memo:\n"),  # a key of the code's own
        _MEMO.replace("    _memo[n] = n * n\n", "    _memo['k'] = n * n\n"),
    ],
)
