"""`repo-agent search DIR QUERY`: rollouts' messages, tool arguments and outputs, and patches
holding some words (labeling/search.py), one line per hit; the studio's ``ctrl+f`` the same."""

from __future__ import annotations

import argparse

from rich.text import Text

from agent.untrusted import neutralise_line
from labeling.records import SearchHit
from labeling.search import MAX_LIMIT
from labeling.search_query import SEARCH_HINT, SearchError
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.label_store import add_store_args, console, err, ingest_dirs, print_json, store_errors, store_from_args
from tui.words import hits_summary

EXAMPLES = """\
query:
  KeyError                  every word must occur in one message, call or output
  "index out of range"      a phrase          read_file OR grep   either word
  -pytest                   leave these out   assert*             a word's start
  model:M task:T batch:B rollout:R verdict:pass|fail|tampered|suspect state:judged|not_judged|probe|running
  reason:R stop:S tag:T flag:F in:message|args|output|patch     (filters narrow the words' hits)

examples:
  repo-agent search runs/ KeyError
  repo-agent search runs/ '"index out of range" in:output verdict:fail'
  repo-agent search runs/ 'write_file conftest in:args' --json --limit 200
  repo-agent studio runs/ --rollout BATCH/ROLLOUT      # open a hit (ctrl+f searches in the studio)
"""


_STATE_STYLE = {"PASS": "green", "FAIL": "red", "TAMPERED": "magenta"}


def hit_line(h: SearchHit) -> Text:
    """One hit as one line: rollout, step, where, state, snippet (already neutralised)."""
    t = Text()
    t.append(neutralise_line(h.uid, markup=False), style="bold")  # a file name may hold anything
    t.append(f"  {h.at:>7}")
    t.append(f"  {h.place:<7}", style="cyan")
    label = h.state.label
    t.append(f"  {label:<8}", style=_STATE_STYLE.get(label, "yellow"))
    t.append("  " + h.snippet)
    return t


@store_errors
def cmd_search(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise UserError(f"--limit must be from 1 to {MAX_LIMIT}")
    with store_from_args(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            ingest_dirs(store, [args.dir], quiet=True)
        try:
            hits = store.search(args.query, limit=args.limit)
        except SearchError as exc:
            raise UserError(f"search: {exc}") from None
    if args.json:
        print_json([h.model_dump() for h in hits])
        if hits.unchecked:  # the JSON stays a list of hits; the shortfall goes to stderr
            err.print(Text(hits_summary(len(hits), args.limit, unchecked=True, checked=hits.checked)))
        if hits.partial_index is not None:
            err.print(Text(hits.partial_index.words))
        return 0
    # A terminal: each hit cut to its width with an ellipsis, one row (a Text's own no_wrap is
    # lost when print joins it); a pipe: the whole line.
    cut = console.is_terminal
    for h in hits:
        console.print(hit_line(h), no_wrap=cut, overflow="ellipsis" if cut else None, soft_wrap=not cut)
    said = hits_summary(len(hits), args.limit, unchecked=hits.unchecked, checked=hits.checked)
    more = "; --limit N for more" if len(hits) >= args.limit and not hits.unchecked else ""
    console.print(Text(said + more, style="dim"))
    if hits.partial_index is not None:  # the index is still filling (labeling/search_fill.py)
        console.print(Text(hits.partial_index.words, style="yellow"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="find rollouts by what they said, called, got back or changed (full text)",
        description="Search the messages (with reasoning), tool calls' arguments, tool outputs and "
        "patches of every rollout under DIR (indexed by the ingest), newest first.\n\n" + SEARCH_HINT,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_args(p)
    p.add_argument("query", metavar="QUERY", help="words, phrases and filters (quote it for the shell)")
    p.add_argument("--limit", type=int, default=50, help=f"at most this many hits (default 50, at most {MAX_LIMIT})")
    p.add_argument("--json", action="store_true", help="the hits as JSON (uid, step, place, snippet, state, ...)")
    p.add_argument("--no-ingest", action="store_true", help="search the store as it is (do not index new bytes first)")
    p.set_defaults(func=cmd_search)


COMMANDS = CommandGroup(rank=55, register=register)
