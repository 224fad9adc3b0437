"""Generated suites: bugs injected by AST operators into a repository that has tests.

``mutate_repo`` (engine) runs the baseline, generates mutants (operators), validates them
in the sandbox (runner) and writes tasks (tasks). See docs/ARCHITECTURE.md.
"""

from agent.suites.mutate.engine import MutateConfig, MutateStats, mutate_repo
from agent.suites.mutate.operators import OPERATORS
from agent.suites.mutate.runner import MutateError

__all__ = ["OPERATORS", "MutateConfig", "MutateError", "MutateStats", "mutate_repo"]
