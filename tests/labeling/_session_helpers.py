"""A served studio session's store work, as a subprocess for tests/labeling/test_team_sessions.py.

python -m tests.labeling._session_helpers DB ROOT LABELER N
    as one browser session of the studio does: ingest the traces (its tail worker), then give
    a verdict to the next pair this labeler has none for, printing "ok PAIR_ID" after each
    commit; N times, then one more ingest and "done". Any error ends it non-zero.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(db: str, root: str, labeler: str, n: int) -> None:
    from labeling.records import PairFilter
    from labeling.store import LabelStore
    from labeling.store_url import is_db_url

    url = is_db_url(db)
    store = LabelStore(db if url else Path(db), labeler=labeler, base=Path(root) if url else None)
    verdicts = ("confirm", "flip", "discard")
    for i in range(n):
        store.ingest([Path(root)])
        mine = {e.target for e in store.events(labeler=labeler) if e.kind == "verdict"}
        todo = [p for p in store.pairs(PairFilter(include_stale=True)) if p.pair_id not in mine]
        pair = todo[(i * 7 + len(labeler)) % len(todo)]  # labelers spread over the queue, and meet
        store.set_verdict(pair.pair_id, verdicts[i % 3], note=labeler)
        print("ok", pair.pair_id, flush=True)
    store.ingest([Path(root)])
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
