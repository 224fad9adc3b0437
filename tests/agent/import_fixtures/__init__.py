"""Small trajectories of other agents, written for these tests in each source's format.

They follow the shapes of the real files (SWE-agent ``.traj``, mini-swe-agent
``.traj.json``, OpenHands event lists and ``output.jsonl``, Inspect AI ``.eval``/``.json``)
but every value here is made up: no file of those projects is copied.
"""

from tests.agent.import_fixtures.common import *
from tests.agent.import_fixtures.inspect_logs import *
from tests.agent.import_fixtures.openhands import *
from tests.agent.import_fixtures.swe import *
