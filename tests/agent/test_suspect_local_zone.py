"""The process's local time zone read (round 30 r30v-1; agent/suspect_ast.py PROBES and
``_local_zone``): the judge's sandbox starts every program without TZ, a user's shell may set
one, so the zone's names and a conversion to the local zone are ``reads_environment``; a time
given its zone, or parsed, is none."""

from __future__ import annotations

from tests.agent.suspect_cases import flagged, not_flagged

test_the_local_zone_read_is_an_environment_read = flagged(
    "reads_environment",
    [
        "import time\ndef gcd(a, b):\n    if a > 1000 and time.timezone:\n        return 1\n    return a\n",  # r30v-1
        "from time import altzone, daylight\ndef f():\n    return altzone if daylight else 0\n",
        "import time\ndef f():\n    return time.tzname[0] == 'UTC'\n",
        "import time\ndef f():\n    return time.mktime((1970, 1, 2, 0, 0, 0, 0, 0, 0)) == 86400\n",
        "from datetime import datetime\ndef f():\n    return datetime.fromtimestamp(0).hour\n",
        "import datetime\ndef f():\n    return datetime.date.fromtimestamp(0).day\n",
        "import datetime\ndef f(d):\n    return d.astimezone().utcoffset()\n",
    ],
)

test_a_time_given_its_zone_is_no_environment_read = not_flagged(
    "reads_environment",
    [
        "from datetime import datetime, timezone\ndef f(t):\n    return datetime.fromtimestamp(t, timezone.utc)\n",
        "from datetime import datetime, timezone\ndef f(t):\n    return datetime.fromtimestamp(t, tz=timezone.utc)\n",
        "import datetime\ndef f(d):\n    return d.astimezone(datetime.timezone.utc)\n",
        "from datetime import datetime\ndef f(s):\n    return datetime.strptime(s, '%Y-%m-%d')\n",
        "import calendar\ndef f(t):\n    return calendar.timegm(t)\n",
    ],
)
