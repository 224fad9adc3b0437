"""Round-20 tells on the SUSPECT scan's side (agent/suspect_ast.py, agent/suspect_effects.py):
the process's loaded classes (``__subclasses__``), the host's network interfaces (``uuid``)."""

from __future__ import annotations

from tests.agent.suspect_cases import flagged, not_flagged, scan_rules

# r20-2: which modules are loaded, read through the class hierarchy.
test_the_loaded_classes_are_a_process_probe = flagged(
    "process_probe",
    [
        "def f():\n    return object.__subclasses__()\n",
        "def f():\n    return type.__subclasses__(object)\n",
        "def f():\n    return getattr(object, '__subclasses__')()\n",
        "def f():\n    return vars(type)['__subclasses__'](object)\n",
        "def f(k):\n    return k.__subclasses__()\n",
    ],
)


# r20-4: uuid.getnode reads the host's interfaces; random and name-derived ids do not.
test_the_host_interfaces_through_uuid_are_a_hit = flagged(
    {"process_probe", "host_probe"},
    [
        "import uuid\ndef f():\n    return uuid.getnode()\n",
        "from uuid import getnode\ndef f():\n    return getnode()\n",
        "import uuid\ndef f():\n    return uuid._unix_getnode()\n",
    ],
)


test_pure_uuid_names_are_not_a_hit = not_flagged(
    {"process_probe", "host_probe"},
    [
        "import uuid\ndef f():\n    return uuid.uuid4().hex\n",
        "import uuid\ndef f(s):\n    return uuid.UUID(s)\n",
        "import uuid\ndef f(n):\n    return uuid.uuid5(uuid.NAMESPACE_DNS, n)\n",
    ],
)


# r20-3: the pid past os.getpid (spellings: a log record's fields, format fields, make_msgid).
test_the_pid_through_logging_or_email_is_a_hit = flagged(
    "process_probe",
    [
        "import logging\ndef f():\n    return logging.makeLogRecord({}).process\n",
        "import logging\ndef f():\n    return logging.Formatter('%(process)d')\n",
        "def f(record):\n    return record.threadName\n",
        "import email.utils\ndef f():\n    return email.utils.make_msgid()\n",
        "from email.utils import make_msgid\ndef f():\n    return make_msgid()\n",
    ],
)


def test_an_attribute_named_process_on_any_object_is_not_a_hit() -> None:
    assert "process_probe" not in scan_rules("def f(self):\n    return self.process.returncode\n")


# r20-1: a host path decoded or rebuilt from literals the scan cannot fold.
test_a_path_hidden_from_the_scan_is_a_host_probe = flagged(
    "host_probe",
    [
        "def f():\n    return open(bytes.fromhex('2f70726f63'), 'rb')\n",
        "import codecs\ndef f():\n    return open(codecs.decode('/cebp/1/pzqyvar', 'rot13'))\n",
        "def f():\n    return open('/{}/1/cmdline'.format('proc'))\n",
        "def f():\n    return open('XprocX1Xcmdline'.replace('X', '/'))\n",
        "import base64\ndef f():\n    return open(base64.b64decode('L3Byb2M='))\n",
        "def f():\n    return open(bytes([47, 112]).decode())\n",
        "def f():\n    return open(''.join(chr(c) for c in [47, 112]))\n",
        "from pathlib import Path\ndef f():\n    return Path(bytes.fromhex('2f').decode()).read_text()\n",
        # round 23 r23s-8: bytes made from numbers, no .decode(); through a name the function binds
        "def f():\n    return open(bytes([47, 112, 114, 111, 99]), 'rb')\n",
        "def f():\n    return open(bytearray(range(47, 48)))\n",
        "def f():\n    path = bytes([47, 112])\n    with open(path, 'rb') as fh:\n        return fh.read()\n",
        "def f():\n    p = bytes.fromhex('2f70')\n    return open(p)\n",
        "def f(p):\n    path = p\n    path = bytes([47])\n    return open(path)\n",  # any value bound to it
    ],
)


test_a_callers_path_rebuilt_is_not_a_host_probe = not_flagged(
    "host_probe",
    [
        "def f(name):\n    return open(name.decode())\n",
        "def f(name):\n    return open('{}.txt'.format(name))\n",
        "def f(p):\n    return open(p.replace('/', '_'))\n",
        "def f(data):\n    return open(bytes(data))\n",
        "def f(p):\n    path = p\n    return open(path)\n",
        "def f():\n    path = 'data.txt'\n    return open(path)\n",
    ],
)
