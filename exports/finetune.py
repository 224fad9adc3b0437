"""Fine-tune on Together from an export: the price before the money, the job, its progress.

The steps `repo-agent finetune` takes, each a method of `FinetuneClient` (a library: it
never prints or asks; the CLI shows and confirms between the steps):

1. ``plan``: the file passes the strict checker (exports.check) and has its export
   sidecar (exports.provenance); it is uploaded, or an identical file's id (same sha256,
   still on Together) is reused; Together's model limits and price estimate are fetched
   for exactly the request ``create`` will send.
2. ``refusal``: why the job must not start (over ``budget_usd``, or Together says the
   account may not proceed); the budget is small, so a price that cannot be known refuses too.
3. ``launch``: create the job and record it in the label store the file came from, with
   its provenance (sidecar hash, verdicts trained on).
4. ``follow``: poll the job, yield its new events, update the store until it ends.

The key comes from the environment (TOGETHER_API_KEY), read by the SDK; it is never
written to the store, a log or a trace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from exports.check import check_file
from exports.formats.registry import TOGETHER_FORMATS, kind_of
from exports.provenance import Provenance, sha256_of
from labeling.records import JobRow, UploadRow
from labeling.store import LabelStore

T = TypeVar("T")


class FinetuneError(Exception):
    """A fine-tuning step failed or was refused; the message is one line."""


class FinetuneOptions(BaseModel):
    """What a person asks for (the `repo-agent finetune` flags)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)  # the base model
    method: Literal["sft", "dpo"] | None = None  # None: the file's kind
    epochs: int = Field(1, ge=1)
    learning_rate: float = Field(1e-5, gt=0)
    dpo_beta: float | None = Field(None, gt=0)
    lora: bool = True
    suffix: str | None = Field(None, max_length=40)
    validation: Path | None = None
    budget_usd: float | None = Field(None, gt=0)


class PriceEstimate(BaseModel):
    """Together's estimate (`fine_tuning.estimate_price`) for the exact job to be created."""

    available: bool
    reason: str | None = None  # why it is unavailable
    price_usd: float | None = None
    train_tokens: float | None = None
    eval_tokens: float | None = None
    user_limit_usd: float | None = None  # what the account may still spend
    allowed: bool | None = None  # Together's allowed_to_proceed


@dataclass
class LaunchPlan:
    """Everything checked and priced; nothing spent yet."""

    options: FinetuneOptions  # with ``method`` resolved
    provenance: Provenance
    training_file_id: str
    validation_file_id: str | None
    reused_upload: bool
    estimate: PriceEstimate
    create_args: dict[str, Any] = field(default_factory=dict)  # the SDK's create() keywords
    limits: Any = None  # together's FinetuneModelLimits


@dataclass(frozen=True)
class JobEvent:
    at: str
    type: str
    message: str
    level: str | None = None


@dataclass(frozen=True)
class JobProgress:
    """One poll of a followed job: its row (as stored now) and the events new since the last poll."""

    job: JobRow
    events: list[JobEvent]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


class FinetuneClient:
    """The Together SDK's files and fine-tuning APIs, as the steps above."""

    def __init__(self, base_url: str | None = None, *, poll_s: float = 10.0) -> None:
        if not os.environ.get("TOGETHER_API_KEY"):
            raise FinetuneError("TOGETHER_API_KEY is not set: export TOGETHER_API_KEY=... and run again")
        from together import Together

        self.client = Together(base_url=base_url) if base_url else Together()
        self.poll_s = poll_s

    # ------------------------------------------------------------------ calls
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """One SDK call; what it raises becomes one line saying what failed."""
        import together

        try:
            return fn(*args, **kw)
        except together.APIStatusError as exc:
            detail = _one_line(exc)
            raise FinetuneError(f"{what}: Together answered HTTP {exc.status_code}: {detail}") from None
        except together.APIConnectionError as exc:
            raise FinetuneError(f"{what}: cannot reach Together at {self.client.base_url}: {_one_line(exc)}") from None
        except (together.TogetherError, ValueError) as exc:  # the SDK's own checks raise ValueError
            raise FinetuneError(f"{what}: {_one_line(exc)}") from None

    # ------------------------------------------------------------------ 1. plan
    def upload(self, path: Path, store: LabelStore) -> tuple[str, bool]:
        """Check ``path`` and upload it, or reuse the id of an identical file already on
        Together (by sha256; asked, since a file can be deleted there). Returns (id, reused)."""
        import together

        report = check_file(path)
        if not report.ok:
            raise FinetuneError(
                f"{path} fails the check ({report.error_count} error(s)); run `repo-agent check {path}`"
            )
        if report.format not in TOGETHER_FORMATS:
            raise FinetuneError(f"{path} is {report.format}; Together takes {' or '.join(TOGETHER_FORMATS)} files")
        sha = sha256_of(path)
        known = store.uploaded(sha)
        if known is not None:
            try:
                self.client.files.retrieve(known.file_id)
                return known.file_id, True
            except together.NotFoundError:
                pass  # deleted on Together since: upload again
            except together.APIError as exc:
                raise FinetuneError(f"checking upload {known.file_id}: {_one_line(exc)}") from None
        resp = self._call(f"uploading {path.name}", self.client.files.upload, file=path, purpose="fine-tune")
        store.record_upload(
            UploadRow(sha256=sha, file_id=resp.id, filename=path.name, bytes=resp.bytes, uploaded_at=now())
        )
        return resp.id, False

    def plan(self, prov: Provenance, options: FinetuneOptions, store: LabelStore) -> LaunchPlan:
        """Check, upload (or reuse), fetch the model's limits and the price of this exact job.
        ``prov`` is the file's `exports.provenance.read_provenance`; ``store`` the one it names."""
        path = prov.file
        kind = prov.kind or kind_of(prov.format) or ""
        method = options.method or kind
        if method != kind:
            raise FinetuneError(f"{path} is a {kind.upper()} file; --method {method} would fail on Together")
        if options.dpo_beta is not None and method != "dpo":
            raise FinetuneError("--dpo-beta is for DPO files only")
        options = options.model_copy(update={"method": method})
        limits = self._call(f"model {options.model}", self.client.fine_tuning.model_limits, model_name=options.model)
        _check_limits(options, limits)
        file_id, reused = self.upload(prov.file, store)
        val_id = None
        if options.validation is not None:
            val_id, _ = self.upload(options.validation, store)
        args = _create_args(options, file_id, val_id, limits)
        estimate = self._estimate(args, limits)
        return LaunchPlan(options, prov, file_id, val_id, reused, estimate, args, limits)

    def _estimate(self, args: dict[str, Any], limits: Any) -> PriceEstimate:
        from together.lib.resources.fine_tuning import create_finetune_request
        from together.types.fine_tuning_estimate_price_response import AvailableEstimate

        # The estimate is asked for the request create() will send (same training type and method).
        req, ttype, tmethod = self._call("the job's parameters", create_finetune_request, model_limits=limits, **args)
        body: dict[str, Any] = dict(
            training_file=args["training_file"],
            model=args["model"],
            n_epochs=req.n_epochs,
            n_evals=req.n_evals or 0,
            training_method=tmethod,
        )
        if ttype is not None:
            body["training_type"] = ttype
        if args.get("validation_file"):
            body["validation_file"] = args["validation_file"]
        est = self._call("price estimate", self.client.fine_tuning.estimate_price, **body)
        if not isinstance(est, AvailableEstimate):
            return PriceEstimate(available=False, reason=str(getattr(est, "unavailable_reason", "unknown")))
        return PriceEstimate(
            available=True,
            price_usd=est.estimated_total_price,
            train_tokens=est.estimated_train_token_count,
            eval_tokens=est.estimated_eval_token_count,
            user_limit_usd=est.user_limit,
            allowed=est.allowed_to_proceed,
        )

    # ------------------------------------------------------------------ 2. refusal
    @staticmethod
    def refusal(plan: LaunchPlan) -> str | None:
        """Why this job must not start, or None."""
        est, budget = plan.estimate, plan.options.budget_usd
        if not est.available:
            return f"Together cannot estimate the price ({est.reason}); nothing is launched without a price"
        if est.allowed is False:
            limit = f", the account's limit ${est.user_limit_usd:,.2f}" if est.user_limit_usd is not None else ""
            return f"Together says this account may not proceed (estimated ${est.price_usd or 0:,.2f}{limit})"
        if budget is not None:
            if est.price_usd is None:
                return f"Together gave no price; --budget-usd {budget:g} cannot be checked"
            if est.price_usd > budget:
                return f"estimated ${est.price_usd:,.2f} is over --budget-usd {budget:g}"
        return None

    # ------------------------------------------------------------------ 3. launch
    def launch(self, plan: LaunchPlan, store: LabelStore) -> JobRow:
        """Create the job (refused again if ``refusal`` says so) and record it with its provenance."""
        if why := self.refusal(plan):
            raise FinetuneError(why)
        resp = self._call(
            "creating the job", self.client.fine_tuning.create, model_limits=plan.limits, **plan.create_args
        )
        opts = plan.options
        job = JobRow(
            job_id=resp.id,
            created_at=now(),
            updated_at=now(),
            status=str(resp.status or "pending"),
            base_model=opts.model,
            method=opts.method or "",
            output_model=resp.output_name,
            training_file=str(plan.provenance.file),
            file_sha256=plan.provenance.file_sha256,
            training_file_id=plan.training_file_id,
            validation_file_id=plan.validation_file_id,
            sidecar=str(plan.provenance.sidecar),
            sidecar_sha256=plan.provenance.sidecar_sha256,
            options=opts.model_dump(mode="json", exclude={"model", "method"}),
            estimate=plan.estimate.model_dump(),
            verdicts=plan.provenance.verdicts,
            labeler=store.labeler,
        )
        store.record_job(job)
        return job

    # ------------------------------------------------------------------ 4. follow, refresh, cancel
    def refresh(self, store: LabelStore, job_id: str) -> tuple[JobRow, list[JobEvent]]:
        """The job as Together has it now (recorded in the store) and all its events."""
        row = store.job(job_id)
        remote = self._call(f"job {job_id}", self.client.fine_tuning.retrieve, job_id)
        events = self._call(f"job {job_id} events", self.client.fine_tuning.list_events, job_id).data
        row = self._update(store, row, str(remote.status), remote.x_model_output_name)
        return row, [JobEvent(e.created_at, str(e.type), e.message, e.level) for e in events]

    def _update(self, store: LabelStore, row: JobRow, status: str, output: str | None) -> JobRow:
        if status == row.status and (output or row.output_model) == row.output_model:
            return row
        row = row.model_copy(update={"status": status, "output_model": output or row.output_model, "updated_at": now()})
        store.record_job(row)
        return row

    def follow(
        self, store: LabelStore, job_id: str, sleep: Callable[[float], None] = time.sleep
    ) -> Iterator[JobProgress]:
        """Poll every ``poll_s`` seconds; each poll yields the events new since the last.
        Ends after the poll that finds the job completed, failed or cancelled."""
        seen = 0
        while True:
            row, events = self.refresh(store, job_id)
            yield JobProgress(row, events[seen:])
            seen = max(seen, len(events))
            if row.final:
                return
            sleep(self.poll_s)

    def cancel(self, store: LabelStore, job_id: str) -> JobRow:
        row = store.job(job_id)
        resp = self._call(f"cancelling {job_id}", self.client.fine_tuning.cancel, job_id)
        return self._update(store, row, str(resp.status), resp.x_model_output_name)

    def sync(self, store: LabelStore) -> int:
        """Update every recorded job from Together's job list (one call); how many changed."""
        remote = {j.id: j for j in self._call("listing jobs", self.client.fine_tuning.list).data}
        changed = 0
        for row in store.jobs():
            r = remote.get(row.job_id)
            if r is not None and self._update(store, row, str(r.status), r.x_model_output_name) is not row:
                changed += 1
        return changed


def _check_limits(options: FinetuneOptions, limits: Any) -> None:
    """What Together would refuse after a round trip, said before anything is uploaded."""
    if options.epochs > limits.max_num_epochs:
        raise FinetuneError(f"--epochs {options.epochs} is over {options.model}'s limit ({limits.max_num_epochs})")
    if not limits.min_learning_rate <= options.learning_rate <= limits.max_learning_rate:
        raise FinetuneError(
            f"--learning-rate {options.learning_rate:g} is outside {options.model}'s range "
            f"[{limits.min_learning_rate:g}, {limits.max_learning_rate:g}]"
        )
    if not options.lora and (not limits.supports_full_training or limits.full_training is None):
        raise FinetuneError(f"{options.model} has no full fine-tuning on Together: drop --full")


def _create_args(options: FinetuneOptions, file_id: str, val_id: str | None, limits: Any) -> dict[str, Any]:
    """The SDK's create() keywords; the estimate is built from the same ones."""
    args: dict[str, Any] = dict(
        training_file=file_id,
        model=options.model,
        n_epochs=options.epochs,
        learning_rate=options.learning_rate,
        lora=options.lora,
        suffix=options.suffix,
        training_method=options.method,
        validation_file=val_id or "",
        n_evals=min(4, limits.max_num_evals) if val_id else 0,
    )
    if options.method == "dpo":
        args["dpo_beta"] = options.dpo_beta
    else:
        args["train_on_inputs"] = "auto"  # the SDK's default, said so it does not warn on stdout
    return args
