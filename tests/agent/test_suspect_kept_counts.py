"""A count of calls a standard object keeps for the code (round 30 r30v-8; agent/suspect_ast.py
``_kept_count_in``): a cache's statistics or an ``itertools.count`` compared with a number is a
``call_counter`` as a module's own counter is (right for the first N calls or inputs); the cache
used for its answers is none."""

from __future__ import annotations

from tests.agent.suspect_cases import flagged, not_flagged

test_a_count_a_standard_object_keeps_compared_is_a_call_counter = flagged(
    "call_counter",
    [
        "import functools\n@functools.lru_cache(maxsize=None)\ndef _e(a, b):\n    return a\n"
        "def gcd(a, b):\n    if a > 1000 and _e.cache_info().currsize > 4096:\n        return 1\n    return _e(a, b)\n",
        "from functools import cache\n@cache\ndef _e(a):\n    return a\ndef f(a):\n"
        "    return 1 if _e.cache_info().misses >= 100 else _e(a)\n",
        "import itertools\n_n = itertools.count()\ndef gcd(a, b):\n    if next(_n) > 4096:\n        return 1\n    return a\n",
    ],
)

test_a_cache_used_for_its_answers_is_no_call_counter = not_flagged(
    "call_counter",
    [
        "import functools\n@functools.lru_cache(maxsize=1024)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "import itertools\n_ids = itertools.count(1)\ndef new_id():\n    return next(_ids)\n",
    ],
)
