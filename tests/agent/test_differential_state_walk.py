"""The runner's state watch reads the standard library's state to a depth (round 31 r31v-4/6/7/8,
23/24/25): a set's items, a standard object's C slots, an object two steps below a class, a
cache's and a table's new key aliasing another's object, a Decimal context a module holds, an
object of the code's own class put where None was. Read in this process, as the runner does."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from tests.agent.test_differential_process import _left_changed, _loaded_here

_STATE_LEFT_31 = """import asyncio
import codecs
import decimal
import email
import email.headerregistry
import email.policy
import encodings
import hashlib
import http
import re
import urllib.parse
from email import _encoded_words


class _Policy(asyncio.DefaultEventLoopPolicy):
    pass


def uses_them_honestly(x):
    hashlib.sha256(b"x").hexdigest(), b"\\xc1".decode("cp1251"), "x".encode("cp1252")
    m = email.message_from_string(
        "To: Ann <ann@example.org>\\nSubject: =?utf-8?q?caf=C3=A9?=\\n\\n", policy=email.policy.default
    )
    m["to"].addresses, str(m["subject"])
    re.compile("a", ~re.IGNORECASE & re.ASCII), http.HTTPStatus(404).phrase, urllib.parse.quote("a b")
    decimal.Decimal(1) / 3

    async def main():
        return 1

    asyncio.run(main())
    return x


def takes_an_item_out_of_a_set(x):
    hashlib.algorithms_available.discard("sha256")
    return x


def sets_a_partials_keyword(x):
    _encoded_words._q_byte_subber.keywords["count"] = 1
    return x


def remaps_a_table_two_steps_below_a_class(x):
    email.policy.default.header_factory.map_to_type("to", email.headerregistry.UnstructuredHeader)
    return x


def changes_a_cached_entrys_attribute(x):
    codecs.lookup("utf-8").incrementaldecoder = codecs.lookup("latin-1").incrementaldecoder
    return x


def caches_another_entrys_answer(x):
    encodings._cache.setdefault("koi8_r", codecs.lookup("latin-1"))
    return x


def gives_an_enum_a_value_it_has_not(x):
    http.HTTPStatus._value2member_map_.setdefault(999, http.HTTPStatus.OK)
    return x


def clears_the_default_contexts_traps(x):
    decimal.DefaultContext.clear_traps()
    return x


def installs_its_own_loop_policy(x):
    if not isinstance(asyncio.get_event_loop_policy(), _Policy):
        asyncio.set_event_loop_policy(_Policy())
    return x
"""


def _put_back_state_31(kept: dict[str, Any]) -> None:
    import asyncio
    import codecs
    import decimal
    import email.headerregistry
    import email.policy
    import encodings
    import hashlib
    import http
    from email import _encoded_words  # type: ignore[attr-defined]

    hashlib.algorithms_available.add("sha256")
    _encoded_words._q_byte_subber.keywords.pop("count", None)
    email.policy.default.header_factory.map_to_type("to", email.headerregistry.AddressHeader)
    codecs.lookup("utf-8").incrementaldecoder = kept["utf_8_decoder"]
    encodings._cache.pop("koi8_r", None)  # type: ignore[attr-defined]
    http.HTTPStatus._value2member_map_.pop(999, None)
    decimal.DefaultContext.traps.update(kept["traps"])
    asyncio.set_event_loop_policy(None)


def test_the_standard_librarys_state_below_a_module_a_call_leaves_changed_round31(tmp_path: Path) -> None:
    """Round 31's class, read in this process: each change names its module; the honest use
    of the same modules (hashing, a cp1251 decode, a message parsed by email.policy.default, a
    Flag's pseudo-member made, quoting, Decimal arithmetic, an asyncio.run making asyncio's
    own policy where None was) names none."""
    import asyncio
    import codecs
    import decimal
    import encodings

    module = _loaded_here(tmp_path, "state_here_31", _STATE_LEFT_31)
    expected = {
        "uses_them_honestly": [],
        "takes_an_item_out_of_a_set": ["hashlib"],
        "sets_a_partials_keyword": ["email"],
        "remaps_a_table_two_steps_below_a_class": ["email"],
        "changes_a_cached_entrys_attribute": ["encodings"],
        "caches_another_entrys_answer": ["encodings"],
        "gives_an_enum_a_value_it_has_not": ["http"],
        "clears_the_default_contexts_traps": ["_decimal", "decimal"],
        "installs_its_own_loop_policy": ["asyncio"],
    }
    kept = {"utf_8_decoder": codecs.lookup("utf-8").incrementaldecoder, "traps": dict(decimal.DefaultContext.traps)}
    encodings._cache.pop("koi8_r", None)  # type: ignore[attr-defined]  # (a cache: refilled on use)
    got = {}
    gc.collect()  # (a class another test left unreferenced leaves abc's registries here, not in a watch)
    try:
        for function in expected:
            if function == "installs_its_own_loop_policy":
                asyncio.set_event_loop_policy(None)  # asyncio's as before its first use: None
            got[function] = _left_changed(module, function)
        assert got == expected
    finally:
        _put_back_state_31(kept)
        gc.collect()


def test_a_class_collected_off_a_standard_registry_is_no_change() -> None:
    """A class registered with a standard abstract class before the calls and collected during
    them leaves C's registry (its weak reference's callback): no caller holds it, no change
    (a test re-importing ``array`` left its old class for a later test's watch to see go)."""
    import numbers

    from agent import differential_runner as runner

    gone = type("Gone", (), {})
    numbers.Number.register(gone)
    found: set[str] = set()
    watch = runner._SettingsWatch(found)
    watch.between()
    del gone
    gc.collect()
    watch.done()
    assert found == set()


def test_a_class_taken_off_a_standard_registry_is_a_change() -> None:
    """The same class taken off C's registry while alive (``_abc._reset_registry``: every class
    registered with it gone for its callers) names the abstract class's module."""
    import _abc
    import numbers

    from agent import differential_runner as runner

    kept = type("Kept", (), {})
    numbers.Number.register(kept)
    found: set[str] = set()
    watch = runner._SettingsWatch(found)
    watch.between()
    registered = [r() for r in _abc._get_dump(numbers.Number)[0]]
    _abc._reset_registry(numbers.Number)
    try:
        watch.done()
    finally:
        for c in registered:
            if c is not None and c is not kept:
                numbers.Number.register(c)
    assert found == {"numbers"}, kept
