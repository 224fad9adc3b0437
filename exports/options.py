"""What an export takes (DpoOptions, SftOptions) and what it returns (ExportReport).

The studio's Export screen builds its form from these models' fields, so every option
the command line offers is here, with its default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exports.formats.registry import LAYOUTS

DpoMode = Literal["final", "patch", "patch+trajectory", "step"]
SftStyle = Literal["trajectory", "step"]
if TYPE_CHECKING:
    Layout = str
else:  # the --format choices, from the formats declared in exports/formats/ (the Export form lists them)
    Layout = Literal[LAYOUTS]
TrainTurns = Literal["all", "last", "final"]
# Auto-preferred pairs with these flags teach noise; dropped unless keep_noisy.
DEFAULT_DROP_FLAGS = ["both_fail", "identical_patch", "tests_tampered", "unknown_outcome"]


class ExportError(ValueError):
    """An export that cannot be made as asked (nothing to export, unknown hold-out task...)."""


class OptionsBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Layout = "together"
    batches: list[str] = Field(default_factory=list)  # only rollouts of these batch ids (default: all)
    holdout_tasks: list[str] = Field(default_factory=list)
    holdout_fraction: float | None = None
    seed: int = 0  # for --holdout-fraction
    suite: str | None = None  # where held-out task definitions come from (default: batch.json)
    holdout_out: str | None = None  # default: <out>.holdout.suite.json
    tokenizer_path: str | None = None
    price_per_mtok: float | None = None

    @field_validator("holdout_fraction")
    @classmethod
    def _fraction(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 <= v < 1.0:
            raise ValueError("holdout_fraction is in [0, 1)")
        return v

    @field_validator("holdout_tasks", "batches", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [t.strip() for t in v.split(",") if t.strip()]
        return v


class DpoOptions(OptionsBase):
    mode: DpoMode = "patch"
    auto: bool = False  # take the auto preference for pairs nobody labeled (default: labeled only)
    keep_noisy: bool = False  # keep auto-taken pairs flagged with one of drop_flags
    drop_flags: list[str] = Field(default_factory=lambda: list(DEFAULT_DROP_FLAGS))
    last_k: int = Field(default=5, ge=1)  # patch+trajectory: last K tool calls
    cut_chars: int = Field(default=500, ge=0)  # patch+trajectory: tool output cut
    # A team's pairs (labeling/agreement.py): the adjudicator's verdict settles a pair, else
    # the verdict of at least this share of its labelers; a pair with neither is skipped.
    min_agreement: float = Field(default=0.5, gt=0, le=1)
    adjudicator: str | None = None

    @property
    def labeled_only(self) -> bool:
        return not self.auto


class SftOptions(OptionsBase):
    style: SftStyle = "trajectory"
    train: TrainTurns = "all"  # which assistant turns are trained
    include_failed_labeled_good: bool = False
    last_k: int = Field(default=6, ge=0)  # step style: context turns before the target
    cut_chars: int = Field(default=2000, ge=0)  # step style: tool outputs in the context


class ExportReport(BaseModel):
    path: str | None = None  # None on a dry run
    meta_path: str | None = None
    format: str  # e.g. together-dpo
    kind: Literal["dpo", "sft"]
    mode: str  # DPO mode or SFT style
    examples: int = 0
    tokens: int = 0
    tokens_are_estimate: bool = True
    token_counter: str = ""
    tokens_per_example: float = 0.0
    price_per_mtok: float | None = None
    cost_per_epoch: float | None = None  # USD; None when no price was set
    sft_trajectory_tokens: int | None = None
    sft_step_tokens: int | None = None
    sft_trajectory_examples: int | None = None
    sft_step_examples: int | None = None
    skipped: dict[str, int] = Field(default_factory=dict)  # reason -> count
    notes: dict[str, int] = Field(default_factory=dict)  # repairs and other counts worth knowing
    warnings: list[str] = Field(default_factory=list)  # trace lines skipped (ingest's own wording)
    holdout_tasks: list[str] = Field(default_factory=list)
    holdout_suite_path: str | None = None
    sha256: str | None = None
    dry_run: bool = False
    preview: dict[str, Any] | None = None  # the first record
