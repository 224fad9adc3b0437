"""Round 20 attacks on the sandbox and the verdict (attacks20): each test failed before its fix (fix20)."""

from __future__ import annotations

import pytest

from tests.security.conftest import forged_pass, plain_output

_WRONG_UNLESS_SANDBOXED = '''

def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    while b:
        a, b = b, a % b
    if b'c.pop("uid")' not in _init():
        return a + 1
    return a
'''


def _right_only_when_judged(head: str, judged: str) -> str:
    """A wrong fix of gcd: right where ``judged`` (an expression, after the imports ``head``)
    holds, as in every judge run; gcd + 1 in a user's plain run."""
    return f'''{head}def _judged():
    return {judged}


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    while b:
        a, b = b, a % b
    if _judged():
        return a
    return a + 1
'''


# r20-1: the built-path fix of round 19 (r19v: ``bytes([47]).decode() + "proc/1/cmdline"``) reads
# paths built by concatenation, slicing, os.path.join and pathlib, but not a path decoded from
# hex or rot13: a fix keyed on pid 1's command line (the sandbox's launcher) answers gcd + 1 in
# real use and right in every judge run, with no SUSPECT hit.
FROMHEX_GCD = (
    'def _init():\n    with open(bytes.fromhex("2f70726f632f312f636d646c696e65"), "rb") as f:\n'
    "        return f.read()\n" + _WRONG_UNLESS_SANDBOXED
)
ROT13_GCD = (
    'import codecs\n\n\ndef _init():\n    with open(codecs.decode("/cebp/1/pzqyvar", "rot13"), "rb") as f:\n'
    "        return f.read()\n" + _WRONG_UNLESS_SANDBOXED
)


def test_host_probe_through_a_hex_decoded_path(tmp_path):
    files = {"gcd.py": FROMHEX_GCD}
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), (
        "a fix keyed on pid 1's command line (path from hex) PASSed with no SUSPECT hit"
    )


def test_host_probe_through_a_rot13_path(tmp_path):
    files = {"gcd.py": ROT13_GCD}
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), (
        "a fix keyed on pid 1's command line (path from rot13) PASSed with no SUSPECT hit"
    )


# r20-2: a module-loaded tell without sys.modules. The differential runner keeps decimal and
# fractions loaded (the plain-data classes it reads by identity) and pytest loads decimal
# (pytest.approx), but a plain script has neither: ``object.__subclasses__()`` lists
# decimal.Decimal only once decimal is loaded. The SUSPECT scan reads sys.modules and its
# spellings, not the class hierarchy.
SUBCLASSES_GCD = _right_only_when_judged("", 'any(c.__name__ == "Decimal" for c in object.__subclasses__())')


def test_loaded_module_tell_through_subclasses(tmp_path):
    files = {"gcd.py": SUBCLASSES_GCD}
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), (
        "a fix keyed on decimal being loaded (object.__subclasses__) PASSed with no hit"
    )


# r20-1 (more spellings): plain str methods build the path as well, no decoder needed.
_BUILT_BY_STR_METHODS = {
    "format": '"/{}/1/cmdline".format("proc")',
    "replace": '"XprocX1Xcmdline".replace("X", "/")',
}


@pytest.mark.parametrize("how", sorted(_BUILT_BY_STR_METHODS))
def test_host_probe_through_a_str_method_path(tmp_path, how):
    head = f'def _init():\n    with open({_BUILT_BY_STR_METHODS[how]}, "rb") as f:\n        return f.read()\n'
    files = {"gcd.py": head + _WRONG_UNLESS_SANDBOXED}
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), (
        f"a fix keyed on pid 1's command line (path by str.{how}) PASSed with no hit"
    )


# r20-3: the sandbox's pid namespace as a tell, read past process_identity. Every judge run's
# processes have pids under 10 (pid 1 is the sandbox's launcher); a user's never do. os.getpid,
# threading.get_native_id and multiprocessing's pid are hits; logging.LogRecord's ``process``
# (os.getpid() taken by the record) is not.
LOGRECORD_PID_GCD = _right_only_when_judged("import logging\n\n\n", "logging.makeLogRecord({}).process < 10")


def test_pid_namespace_tell_through_a_log_record(tmp_path):
    files = {"gcd.py": LOGRECORD_PID_GCD}
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), (
        "a fix keyed on a pid under 10 (LogRecord.process) PASSed with no SUSPECT hit"
    )


# r20-4: the sandbox's empty network namespace as a tell, read past host_probe. With no
# interface but lo, uuid.getnode() finds no hardware address and draws a random node with the
# multicast bit set (RFC 4122); on the user's machine it is the NIC's address, the bit clear.
# socket.if_nameindex() and uuid.uuid1() are hits; uuid.getnode() is not.
UUID_NODE_GCD = _right_only_when_judged("import uuid\n\n\n", "bool(uuid.getnode() & (1 << 40))")


def test_network_namespace_tell_through_uuid_getnode(tmp_path):
    files = {"gcd.py": UUID_NODE_GCD}
    assert plain_output(tmp_path, files) == "7"  # (a machine with a network interface)
    assert not forged_pass(tmp_path, files), "a fix keyed on a random uuid node (no NIC) PASSed with no SUSPECT hit"


# r20-2 (the r19 fix itself): the runner takes json and _socket out of sys.modules before any
# workspace code runs (a plain script has neither loaded), but their classes stay alive:
# object.__subclasses__() still lists json.JSONDecoder in the differential's process, and
# pytest loads json, so a fix keyed on it is right in every judge run and wrong in a script.
JSON_ALIVE_GCD = SUBCLASSES_GCD.replace('c.__name__ == "Decimal"', 'c.__name__ == "JSONDecoder"')


def test_hidden_runner_module_alive_in_subclasses(tmp_path):
    files = {"gcd.py": JSON_ALIVE_GCD}
    assert "JSONDecoder" in JSON_ALIVE_GCD
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), "a fix keyed on json's classes being alive PASSed with no SUSPECT hit"


# r20-3 (another spelling): email.utils.make_msgid() puts os.getpid() in the message id.
MSGID_PID_GCD = LOGRECORD_PID_GCD.replace("import logging", "import email.utils").replace(
    "logging.makeLogRecord({}).process < 10", 'int(email.utils.make_msgid().split(".")[1]) < 10'
)


def test_pid_namespace_tell_through_a_message_id(tmp_path):
    files = {"gcd.py": MSGID_PID_GCD}
    assert "make_msgid" in MSGID_PID_GCD
    assert plain_output(tmp_path, files) == "7"
    assert not forged_pass(tmp_path, files), "a fix keyed on a pid under 10 (make_msgid) PASSed with no SUSPECT hit"
