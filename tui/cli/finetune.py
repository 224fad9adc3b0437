"""`repo-agent finetune FILE --model BASE`: an exported file to a fine-tuned model on Together.

Check, upload (or reuse), show Together's price estimate, refuse over ``--budget-usd`` or
when Together says no, confirm (``--yes`` when there is no terminal), launch, record the
job and what it was trained on in the file's label store, follow it until it ends.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.jobs import follow_job, jobs_command, price_text
from tui.cli.store_flag import add_db_flag

console = Console(highlight=False, soft_wrap=True)

EXAMPLES = """\
examples:
  repo-agent finetune data/dpo.jsonl --model Qwen/Qwen2.5-7B-Instruct --budget-usd 20
  repo-agent finetune data/sft.jsonl --model Qwen/Qwen2.5-7B-Instruct --epochs 2 --suffix gcd-v1 \\
      --budget-usd 20 --yes          # no question asked (scripts, CI)

The file must be an export (its NAME.meta.json sidecar names the label store and the
labels it holds); the job is recorded there: `repo-agent jobs DIR` lists it.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune on Together from an exported file: price, confirm, launch, follow",
        description="Check FILE, upload it (or reuse an identical upload), show Together's price "
        "estimate, and launch the fine-tuning job once confirmed; follow it until it ends.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, metavar="FILE", help="a together-sft or together-dpo export (.jsonl)")
    p.add_argument("--model", required=True, metavar="BASE", help="the base model, e.g. Qwen/Qwen2.5-7B-Instruct")
    p.add_argument("--method", choices=("sft", "dpo"), help="default: the file's kind")
    p.add_argument("--epochs", type=int, default=1, help="passes over the file (default 1)")
    p.add_argument("--learning-rate", type=float, default=1e-5, help="default 1e-5")
    p.add_argument("--dpo-beta", type=float, help="DPO only: the beta of the DPO loss (default: Together's)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--lora", dest="lora", action="store_true", default=True, help="LoRA adapters (default)")
    g.add_argument("--full", dest="lora", action="store_false", help="full fine-tuning (where the model allows)")
    p.add_argument("--validation", type=Path, metavar="FILE", help="a validation file (checked and uploaded too)")
    p.add_argument("--suffix", help="up to 40 characters added to the fine-tuned model's name")
    p.add_argument("--budget-usd", type=float, help="refuse when Together's estimate is over this")
    p.add_argument("--yes", action="store_true", help="launch without asking (required without a terminal)")
    p.add_argument("--detach", action="store_true", help="launch, then return without following the job")
    add_db_flag(p, "the store FILE's sidecar names")
    p.add_argument("--base-url", help="Together API base URL (default: the SDK's, or $TOGETHER_BASE_URL)")
    p.add_argument("--poll-seconds", type=float, default=10.0, help="how often to ask for progress (default 10)")
    p.set_defaults(func=cmd_finetune)


def _options(args: argparse.Namespace):
    from exports.finetune import FinetuneOptions

    try:
        return FinetuneOptions(
            model=args.model,
            method=args.method,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            dpo_beta=args.dpo_beta,
            lora=args.lora,
            suffix=args.suffix,
            validation=args.validation,
            budget_usd=args.budget_usd,
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        flag = "--" + str(e["loc"][0]).replace("_", "-") if e.get("loc") else "option"
        raise UserError(f"{flag}: {e['msg']}") from None


def store_for(prov, db):
    """The label store the file was exported from (its sidecar names it), or ``--db``."""
    from labeling.store import LabelStore
    from labeling.store_url import ENV, is_db_url

    if db is None and is_db_url(prov.label_store):
        db = os.environ.get(ENV)  # the sidecar holds the URL without its password
        if not db:
            raise UserError(f"{prov.file} was exported from {prov.label_store}: pass --db URL (or set {ENV})")
    if db is None:
        where = Path(prov.label_store)
        if not where.is_file() and not where.is_absolute() and (prov.sidecar.parent / where).is_file():
            where = prov.sidecar.parent / where
        if not prov.label_store or not where.is_file():
            raise UserError(
                f"the label store {prov.file} was exported from ({prov.label_store or 'unknown'}) is not here: "
                "pass --db FILE"
            )
        db = where
    return LabelStore(db)


def cmd_finetune(args: argparse.Namespace) -> int:
    from exports.finetune import FinetuneClient, FinetuneError
    from exports.provenance import ProvenanceError, read_provenance

    options = _options(args)
    for path in (args.file, args.validation):
        if path is not None and not path.is_file():
            raise UserError(f"no such file: {path}")
    if args.poll_seconds < 0:
        raise UserError("--poll-seconds must be 0 or more")
    try:
        prov = read_provenance(args.file)
    except ProvenanceError as exc:
        raise UserError(str(exc)) from None
    store = store_for(prov, args.db)
    try:
        client = FinetuneClient(args.base_url, poll_s=args.poll_seconds)
        plan = client.plan(prov, options, store)
        _show_plan(plan, store)
        if why := client.refusal(plan):
            raise UserError(f"not launched: {why}")
        if not _confirmed(args, plan):
            console.print("not launched")
            return 1
        job = client.launch(plan, store)
        console.print(f"launched: [bold]{escape(job.job_id)}[/] (recorded in {escape(store.location)})")
        if args.detach:
            console.print(f"follow it: {escape(jobs_command(store))} follow {escape(job.job_id)}")
            return 0
        return follow_job(client, store, job.job_id)
    except FinetuneError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()


def _show_plan(plan, store) -> None:
    o, est = plan.options, plan.estimate
    reused = " (reused: the same file was uploaded before)" if plan.reused_upload else ""
    counts = ", ".join(f"{k} {v}" for k, v in sorted((plan.provenance.verdicts.get("counts") or {}).items()))
    rows = [
        ("file", f"{plan.provenance.file}  [{plan.provenance.format}, checked]"),
        ("trained on", f"{plan.provenance.verdicts.get('examples', 0)} examples" + (f" ({counts})" if counts else "")),
        ("label store", store.location),
        ("file id", plan.training_file_id + reused),
        ("job", f"{o.method} on {o.model}, {o.epochs} epoch(s), lr {o.learning_rate:g}, "
         f"{'LoRA' if o.lora else 'full'}" + (f", dpo beta {o.dpo_beta:g}" if o.dpo_beta else "")
         + (f", suffix {o.suffix}" if o.suffix else "")),
    ]  # fmt: skip
    if plan.validation_file_id:
        rows.append(("validation id", plan.validation_file_id))
    if est.available:
        tokens = f"{est.train_tokens:,.0f} training tokens" if est.train_tokens is not None else "tokens unknown"
        if est.eval_tokens:
            tokens += f" + {est.eval_tokens:,.0f} evaluation"
        rows += [("tokens", tokens), ("price", f"{price_text(est.price_usd)} (Together's estimate)")]
        if est.user_limit_usd is not None:
            rows.append(("account limit", price_text(est.user_limit_usd)))
    else:
        rows.append(("price", f"unknown ({est.reason})"))
    if o.budget_usd is not None:
        rows.append(("budget", price_text(o.budget_usd)))
    for key, value in rows:
        console.print(f"{key:<14} {value}", markup=False)


def _confirmed(args: argparse.Namespace, plan) -> bool:
    if args.yes:
        return True
    price = price_text(plan.estimate.price_usd)
    if not sys.stdin.isatty():
        raise UserError(f"not launched: no terminal to confirm on (estimated {price}); pass --yes to launch")
    answer = console.input(f"Launch this job for about {price}? [y/N] ", markup=False)
    return answer.strip().lower() in ("y", "yes")


COMMANDS = CommandGroup(rank=80, register=register)
