"""One request for a batch and one planning function, shared by every front end.

`repo-agent run`, `repo-agent prefs` and the studio's launch form all describe a batch
as a `BatchRequest` and turn it into a `BatchPlan` with `plan_batch`: the suite is loaded,
tasks checked, the provider built (so a missing key fails before any rollout), replay
defaults and a resumed batch's allocation filled in, all in one place. The plan then runs
through `agent.batch.run_batch`. Errors are `BatchRequestError`, one line each, naming
the command-line flag (the studio's form fields carry the same names).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from agent.allocation import AllocationConfig
from agent.batch import BatchSummary, run_batch
from agent.batch_spec import BatchControls, BatchObserver, BatchSpec
from agent.budget import DollarBudget
from agent.executor import Executor, RolloutCancels
from agent.loop import RolloutConfig
from agent.probes import ProbeError, with_probes
from agent.providers import ProviderConfigError, ProviderFactory, RetryPolicy, provider_factory
from agent.suites.loading import SuiteError, load_suite
from agent.suites.models import Suite
from agent.trace import BATCH_FILE, BatchMeta, new_batch_id, read_batch_meta

PROVIDERS = ("openai", "together", "replay")
ADAPTIVE_ONLY = ("pairs_per_task", "give_up_after", "initial_per_task")
NEEDS_BUDGET = "--allocation adaptive needs --budget-rollouts B: it needs a budget, the most rollouts it may spend"


class BatchRequestError(ValueError):
    """A request a user can fix: one line, naming the flag."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class BatchRequest(BaseModel):
    """What a person asks for. ``None`` means "the default" (or, replaying a batch or
    resuming one, what that batch recorded)."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    provider: Literal["openai", "together", "replay"] = "openai"
    model: str | None = None
    base_url: str | None = None
    replay_from: str | None = None  # replay provider: a trace file or a batch directory
    rollouts: int | None = None  # per task (fixed allocation); default 1, replay: as recorded
    temperature: float | None = None
    seed: int = 0
    max_workers: int = 1
    max_iters: int | None = None  # default 30, replay: as recorded
    tasks: list[str] | None = None  # None: every task (replay: the recorded ones)
    reflection: bool = False
    output_limit: int = 8000
    price_in: float | None = None
    price_out: float | None = None
    rollout_timeout: float | None = None
    loop_limit: int | None = None  # end a rollout after K loop repeats (default 5; 0 = flag only; resume: as recorded)
    stall_after: float = 120.0  # seconds without an event recorded as a stall
    allocation: Literal["fixed", "adaptive"] | None = None  # None: fixed, or a resumed batch's
    budget_rollouts: int | None = None
    budget_usd: float | None = None  # dollars (agent/budget.py); needs price_in / price_out
    pairs_per_task: int | None = None
    give_up_after: int | None = None
    initial_per_task: int | None = None
    trace_dir: str = "runs"
    resume: str | None = None  # a batch directory to continue
    executor: Literal["thread", "ray"] | None = None  # where rollouts run (None: threads, or as a resumed batch ran)
    ray_address: str | None = None  # ray: None starts a local Ray, "auto" joins the running cluster
    cheat_probes: int = 0  # impossible tasks added to measure the cheat rate (agent/probes.py)

    @model_validator(mode="after")
    def _check(self) -> BatchRequest:
        for name in ("rollouts", "max_iters", "max_workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BatchRequestError(f"{_flag(name)} must be at least 1")
        if not self.suite.strip():
            raise BatchRequestError("--suite: a suite is required")
        if self.provider == "replay":
            if not self.replay_from:
                raise BatchRequestError(
                    "the replay provider needs a recorded batch to replay (--replay-from TRACE_OR_BATCH_DIR)"
                )
        elif not self.model:
            raise BatchRequestError(f"the {self.provider} provider needs a model (--model)")
        if self.allocation == "fixed":
            for name in ADAPTIVE_ONLY:
                if getattr(self, name) is not None:
                    raise BatchRequestError(f"{_flag(name)} needs --allocation adaptive")
        if self.allocation == "adaptive" and self.budget_rollouts is None and not self.resume:
            raise BatchRequestError(NEEDS_BUDGET)
        if self.budget_rollouts is not None and self.budget_rollouts < 1:
            raise BatchRequestError("--budget-rollouts must be at least 1")
        if self.ray_address and self.executor != "ray" and not (self.resume and self.executor is None):
            raise BatchRequestError("--ray-address needs --executor ray")
        if self.loop_limit is not None and self.loop_limit < 0:
            raise BatchRequestError("--loop-limit must be 0 (flag only) or more")
        if self.cheat_probes < 0:
            raise BatchRequestError("--cheat-probes must be 0 (none) or more")
        if self.stall_after <= 0:
            raise BatchRequestError("--stall-after must be positive")
        if self.budget_usd is not None:
            if self.budget_usd <= 0:
                raise BatchRequestError("--budget-usd must be more than 0")
            if self.price_in is None and self.price_out is None:
                raise BatchRequestError(
                    "--budget-usd needs prices to know what a rollout costs: give --price-in and --price-out "
                    "(USD per 1M tokens) or --prices FILE"
                )
        return self

    @classmethod
    def parse(cls, **fields: Any) -> BatchRequest:
        """Build a request; a bad one raises `BatchRequestError` with its first problem."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise BatchRequestError(_first_error(exc)) from None

    @classmethod
    def for_resume(cls, meta: BatchMeta, batch_dir: Path) -> BatchRequest:
        """Continue a batch from what its batch.json recorded."""
        if meta.provider == "replay":
            raise BatchRequestError("a replay batch records no replay source; resume it with --replay-from")
        p = meta.params
        return cls.parse(
            suite=meta.suite_path or meta.suite,
            provider=meta.provider,
            model=meta.model,
            base_url=meta.base_url,
            rollouts=p.rollouts,
            temperature=p.temperature,
            seed=p.seed,
            max_workers=p.max_workers,
            max_iters=p.max_iters,
            reflection=p.reflection,
            loop_limit=p.loop_limit,
            cheat_probes=p.cheat_probes,
            resume=str(batch_dir),
        )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, BatchRequestError):
        return str(ctx_error)
    where = _flag(str(err["loc"][0])) if err.get("loc") else "request"
    return f"{where}: {err['msg']}"


@dataclass
class BatchPlan:
    """A request resolved against the suite, the provider and any recorded batch."""

    request: BatchRequest
    suite: Suite
    factory: ProviderFactory
    batch_dir: Path
    model: str
    task_ids: list[str] | None
    rollouts: int
    config: RolloutConfig
    allocation: str  # fixed | adaptive
    allocation_config: AllocationConfig | None
    cancel: threading.Event  # set it to stop the batch; also ends a provider's retry backoff
    executor: Executor | None = None  # None: the local thread pool

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids or self.suite.tasks)

    @property
    def planned_total(self) -> int:
        """Rollouts the batch may start (adaptive: its budget)."""
        if self.allocation == "adaptive" and self.allocation_config is not None:
            return self.allocation_config.budget_rollouts
        total = self.rollouts * self.n_tasks
        return min(total, self.allocation_config.budget_rollouts) if self.allocation_config else total

    def batch_spec(self) -> BatchSpec:
        """What `agent.batch.run_batch` (and `exports.prefs.run_prefs`) runs."""
        r = self.request
        return BatchSpec(
            self.suite,
            self.factory,
            self.batch_dir,
            rollouts=self.rollouts,
            seed=r.seed,
            max_workers=r.max_workers,
            config=self.config,
            task_ids=self.task_ids,
            provider_name=r.provider,
            model=self.model,
            base_url=r.base_url,
            suite_path=r.suite,
            allocation=self.allocation,
            allocation_config=self.allocation_config,
        )

    def controls(self, rollout_cancels: RolloutCancels | None = None) -> BatchControls:
        """The plan's cancel flag, executor and a fresh dollar budget (when one was asked for)."""
        budget_usd = self.request.budget_usd
        return BatchControls(
            cancel=self.cancel,
            executor=self.executor,
            rollout_cancels=rollout_cancels,
            budget=DollarBudget(budget_usd) if budget_usd is not None else None,
        )

    def run(self, observer: BatchObserver | None = None, rollout_cancels: RolloutCancels | None = None) -> BatchSummary:
        """Run (or resume) the batch, ``observer`` told as rollouts start and end."""
        return run_batch(self.batch_spec(), observer, self.controls(rollout_cancels))


def _read_meta(batch_dir: Path, what: str) -> BatchMeta | None:
    if not (batch_dir / BATCH_FILE).is_file():
        return None
    try:
        return read_batch_meta(batch_dir)
    except ValueError as exc:
        raise BatchRequestError(f"{what}: bad {batch_dir / BATCH_FILE}: {exc}".splitlines()[0]) from None


def _allocation(r: BatchRequest, old: BatchMeta | None) -> tuple[str, AllocationConfig | None]:
    """The strategy and its config; a resumed batch's own settings fill in what is not given."""
    prev = old.params if old is not None else None
    strategy = r.allocation or (prev.allocation if prev else "fixed")
    given: dict[str, int | None] = {k: getattr(r, k) for k in ("budget_rollouts", *ADAPTIVE_ONLY)}
    if prev is not None and prev.allocation == strategy:
        given = {k: v if v is not None else getattr(prev, k, None) for k, v in given.items()}
    budget = given["budget_rollouts"]
    if strategy == "fixed":
        for name in ADAPTIVE_ONLY:
            if getattr(r, name) is not None:
                raise BatchRequestError(f"{_flag(name)} needs --allocation adaptive")
        return "fixed", (AllocationConfig(budget_rollouts=budget) if budget is not None else None)
    if budget is None:
        raise BatchRequestError(NEEDS_BUDGET)
    try:
        return "adaptive", AllocationConfig(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise BatchRequestError(f"allocation: {exc}") from None


def plan_batch(request: BatchRequest, *, factory: ProviderFactory | None = None) -> BatchPlan:
    """Resolve a request: load the suite, check tasks, build the provider, pick the batch
    directory. ``factory`` replaces the provider (tests, embedders); it is still named
    ``request.provider`` in the trace. Raises `BatchRequestError`."""
    r = request
    try:
        suite = load_suite(os.path.expanduser(r.suite))
    except SuiteError as exc:
        raise BatchRequestError(str(exc)) from None
    known = {t.id for t in suite.tasks}

    replay_meta = None
    if r.provider == "replay" and r.replay_from:
        replay_meta = _read_meta(Path(r.replay_from), "--replay-from")
    task_ids = list(r.tasks) if r.tasks else None
    for t in task_ids or []:
        if t not in known:
            raise BatchRequestError(f"--tasks: no task {t!r} in suite {suite.name}")
    if task_ids is None and replay_meta is not None and replay_meta.planned:
        # Replay only what was recorded: other tasks would have nothing to replay.
        recorded = dict.fromkeys(p.task_id for p in replay_meta.planned)
        task_ids = [t for t in recorded if t in known]
        if not task_ids:
            raise BatchRequestError(f"--replay-from: none of the recorded tasks are in suite {suite.name}")
    model = r.model or (replay_meta.model if replay_meta else None) or ("replay" if r.provider == "replay" else "")
    rollouts = r.rollouts or (replay_meta.params.rollouts if replay_meta else 1)
    max_iters = r.max_iters or (replay_meta.params.max_iters if replay_meta else 30)

    cancel = threading.Event()
    if factory is None:
        try:
            factory = provider_factory(
                r.provider, model, base_url=r.base_url, replay_from=r.replay_from, retry=RetryPolicy(cancel=cancel)
            )
        except ProviderConfigError as exc:
            raise BatchRequestError(str(exc)) from None

    old = None
    if r.resume:
        batch_dir = Path(r.resume)
        if not batch_dir.is_dir():
            raise BatchRequestError(f"--resume: {batch_dir} is not a batch directory")
        old = _read_meta(batch_dir, "--resume")
    else:
        batch_dir = Path(r.trace_dir) / new_batch_id(suite.name, model)
    strategy, alloc = _allocation(r, old)
    probes = r.cheat_probes if r.cheat_probes or old is None else old.params.cheat_probes
    try:  # probes live in the batch directory, built the same way again on resume
        suite, task_ids = with_probes(suite, probes, batch_dir, task_ids)
    except ProbeError as exc:
        raise BatchRequestError(str(exc)) from None
    config = RolloutConfig(
        max_iters=max_iters,
        temperature=r.temperature,
        reflection=r.reflection,
        output_limit=r.output_limit,
        price_in=r.price_in,
        price_out=r.price_out,
        timeout_s=r.rollout_timeout,
        loop_limit=5 if r.loop_limit is None else r.loop_limit,
        stall_s=r.stall_after,
    )
    kind: str | None = r.executor
    address = r.ray_address
    if old is not None and kind in (None, old.params.executor):  # a resumed batch runs where it ran
        kind = kind or old.params.executor
        address = address or old.params.ray_address
    executor = make_executor(kind or "thread", r.max_workers, address)
    return BatchPlan(r, suite, factory, batch_dir, model, task_ids, rollouts, config, strategy, alloc, cancel, executor)


def make_executor(kind: str, max_workers: int, ray_address: str | None = None) -> Executor | None:
    """The executor for ``--executor`` (None: the local thread pool); ray without its extra
    installed is one BatchRequestError naming the extra."""
    if kind == "thread":
        if ray_address:
            raise BatchRequestError("--ray-address needs --executor ray")
        return None
    if kind != "ray":
        raise BatchRequestError(f"--executor: unknown executor {kind!r} (thread, ray)")
    from agent.ray_executor import RayExecutor, RayMissing

    _check_reachable(ray_address)
    try:
        return RayExecutor(max_workers, address=ray_address)
    except RayMissing as exc:
        raise BatchRequestError(str(exc)) from None


def _check_reachable(address: str | None) -> None:
    """A cluster address must answer before the batch is created: Ray itself retries an
    unreachable address for minutes with only log lines to show for it."""
    if address in (None, "", "auto") or address.startswith("ray://"):
        return
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BatchRequestError(f"--ray-address {address!r}: give HOST:PORT of the cluster's head, or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise BatchRequestError(
            f"--ray-address {address}: no Ray head answers there ({exc.strerror or exc}); "
            "start one with `ray start --head`, or pass auto / leave it out for a local instance"
        ) from None
