"""Full-text search over rollouts (labeling/search.py): what is found where, the filters, the
query line, incremental indexing, and the same hits on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling.search_query import SearchError, parse_search
from labeling.store import LabelStore
from tests import factories
from tests.factories import Call, Rollout, Step
from tests.labeling.conftest import FIX

ESC = "\x1b]0;owned\x07"


def _rollouts() -> list[Rollout]:
    a = Rollout(
        "t_sort",
        0,
        steps=[
            Step(
                [Call("read_file", {"rel_path": "sorter.py"}, output="def bubble(arr):\n    return arr")],
                content="Let me look at the repository.",
            ),
            Step([Call("run_tests", {}, output=f"E   KeyError: 'zebra' {ESC}")]),
            Step([Call("write_file", {"rel_path": "sorter.py", "content": "import heapq"}, output="Wrote sorter.py")]),
        ],
        passed=True,
        patch=FIX,
        model="m-7b",
        goal="fix the quicksort pivot",
    )
    b = Rollout(
        "t_parse",
        1,
        steps=[
            Step([Call("grep", {"pattern": "zebra", "rel_dir": "."}, output="no match")]),
            Step([Call("read_file", {"rel_path": "parser.py"}, output="index out of range in parser")]),
        ],
        passed=False,
        model="m-70b",
        goal="fix the parser",
    )
    c = Rollout("t_sort", 2, steps=[Step([Call("grep", {"pattern": "walrus"}, output="nothing")])], model="m-70b")
    return [a, b, c]


def _add_reasoning(path: Path, step: int, reasoning: str) -> None:
    lines = path.read_text().splitlines()
    out = []
    for line in lines:
        d = json.loads(line)
        if d["kind"] == "message" and d.get("step") == step and d["message"]["role"] == "assistant":
            d["reasoning"] = reasoning
        out.append(json.dumps(d))
    path.write_text("\n".join(out) + "\n")


@pytest.fixture
def found(env):
    b = factories.write_batch(env.root, "b1", _rollouts())  # one pair: t_sort's two
    _add_reasoning(b / "traces" / f"{_rollouts()[0].rollout_id}.jsonl", 2, "the pivot must be the median")
    env.store.ingest([env.root])
    return env


def where(hits) -> list[tuple]:
    """(rollout, step, place) of each hit, in order: newest first within a trace (across traces
    the order is the order files were read)."""
    return [(h.uid.split("/")[1], h.step, h.place) for h in hits]


def where_set(hits) -> set[tuple]:
    return set(where(hits))


def test_each_place_is_found_at_its_step(found):
    s = found.store
    a, b, c = (r.rollout_id for r in _rollouts())
    assert where(s.search("repository")) == [(a, 1, "message")]
    assert where(s.search("median")) == [(a, 2, "message")]  # the reasoning, kept apart from content
    assert where(s.search("KeyError")) == [(a, 2, "output")]
    assert where(s.search("heapq")) == [(a, 3, "args")]
    assert where(s.search("quicksort")) == [(a, None, "message")]  # the task, before step 1
    assert ("return x + 1" in FIX) and where(s.search('"return x 1"')) == [(a, None, "patch")]
    assert where(s.search("sys")) == []  # the system prompt is not indexed
    assert where_set(s.search("zebra")) == {(b, 1, "args"), (a, 2, "output")}


def test_snippets_are_one_neutralised_line(found):
    (hit,) = found.store.search("KeyError")
    assert "\x1b" not in hit.snippet and "\x07" not in hit.snippet and "\\x1b]0;owned" in hit.snippet
    assert "KeyError: 'zebra'" in hit.snippet and "\n" not in hit.snippet
    assert hit.task_id == "t_sort" and hit.model == "m-7b" and hit.state.verdict == "pass"
    (hit,) = found.store.search("bubble")
    assert hit.snippet == "def bubble(arr): return arr"


def test_words_phrases_or_not_and_prefix(found):
    s = found.store
    a, b, c = (r.rollout_id for r in _rollouts())
    assert where(s.search('"index out of range"')) == [(b, 2, "output")]
    assert where(s.search('"range out of index"')) == []
    assert where(s.search("index parser")) == [(b, 2, "output")]  # all words, one document
    assert where(s.search("heapq OR bubble")) == [(a, 3, "args"), (a, 1, "output")]
    assert where(s.search("zebra -grep")) == [(a, 2, "output")]
    assert where(s.search("quick*")) == [(a, None, "message")]
    assert where_set(s.search("rel_path in:args")) == {(b, 2, "args"), (a, 3, "args"), (a, 1, "args")}
    # newest first; a word in args and output of one step is two hits
    assert where(s.search("sorter.py")) == [(a, 3, "output"), (a, 3, "args"), (a, 1, "args")]


def test_metadata_filters(found):
    s = found.store
    a, b, c = (r.rollout_id for r in _rollouts())
    assert where(s.search("zebra model:m-70b")) == [(b, 1, "args")]
    assert where(s.search("zebra task:t_sort")) == [(a, 2, "output")]
    assert where(s.search("zebra verdict:fail")) == [(b, 1, "args")]
    assert where(s.search("zebra state:judged in:output")) == [(a, 2, "output")]
    assert where_set(s.search("zebra stop:finished batch:b1")) == {(b, 1, "args"), (a, 2, "output")}
    assert where(s.search("zebra stop:budget")) == []
    assert where(s.search(f"zebra OR sorter rollout:{b}")) == [(b, 1, "args")]
    (pair,) = s.pairs()  # t_sort's two rollouts
    s.tag_pair(pair.pair_id, "recheck")
    assert where_set(s.search("zebra OR walrus tag:recheck")) == {(c, 1, "args"), (a, 2, "output")}
    assert s.search("zebra tag:other") == []
    flag = pair.flags[0] if pair.flags else None
    other = next(f for f in ("identical_patch", "flaky") if f != flag)
    assert s.search(f"zebra OR walrus flag:{other}") == []
    if flag:
        assert len(s.search(f"zebra OR walrus flag:{flag}")) == 2


def test_limit(found):
    hits = found.store.search("rel_path", limit=2)
    assert len(hits) == 2


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('"unclosed', "a quote is not closed"),
        ("OR zebra", "OR needs a word on each side"),
        ("zebra OR", "OR needs a word on each side"),
        ("", "nothing to search for"),
        ("model:m-7b", "nothing to search for"),
        ("-zebra", "nothing to search for"),
        ("+++", "“+++” has no letters or digits"),
        ("zebra verdict:great", "unknown verdict “great”: one of pass, fail, tampered, suspect"),
        ("zebra in:", "in: needs a value"),
    ],
)
def test_a_malformed_line_is_one_clear_error(line, says):
    with pytest.raises(SearchError) as err:
        parse_search(line)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_fts5_syntax_in_a_line_is_only_words(found):
    # NEAR, ^, column filters and parentheses are FTS5 syntax: here they are words or blanks.
    assert where(found.store.search("body: NEAR(zebra) ^KeyError")) == []
    assert len(found.store.search("(zebra)")) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_the_index_grows_with_the_trace_and_forgets_replaced_files(env):
    steps = [Step([Call("grep", {"pattern": "first"}, output="alpha")])]
    r = Rollout("t_live", 0, steps=steps, finished=False, t0=1000.0)  # a fixed clock: rewritten, it grows
    batch = env.root / "b1"
    factories.write_batch(env.root, "b1", [r], finished=None)
    env.store.ingest([env.root])
    assert len(env.store.search("alpha")) == 1
    # The same rollout, two steps on: only the new bytes are read, and the old step is not doubled.
    r.steps.append(Step([Call("grep", {"pattern": "second"}, output="omega")]))
    path = batch / "traces" / f"{r.rollout_id}.jsonl"
    old = path.read_bytes()
    factories.write_rollout(batch, r)
    assert path.read_bytes().startswith(old)
    report = env.store.ingest([env.root])
    assert report.updated_rollouts == 1
    assert len(env.store.search("alpha")) == 1 and len(env.store.search("omega")) == 1
    # Replaced by other content: the old words are gone.
    r2 = Rollout("t_live", 0, steps=[Step([Call("grep", {"pattern": "other"}, output="gamma")])])
    path.unlink()
    factories.write_rollout(batch, r2)
    env.store.ingest([env.root])
    assert env.store.search("alpha") == [] and len(env.store.search("gamma")) == 1
    # Deleted: nothing of it is found.
    path.unlink()
    env.store.ingest([env.root])
    assert env.store.search("gamma") == []


def test_a_long_output_is_found_in_any_part(env):
    words = " ".join(f"w{i} hay" if i % 1000 == 0 else f"w{i}" for i in range(20_000))  # ~130 KB: eight parts
    r = Rollout("t_big", 0, steps=[Step([Call("read_file", {"rel_path": "big"}, output=words + " needle")])])
    factories.write_batch(env.root, "b1", [r])
    env.store.ingest([env.root])
    hits = env.store.search("needle")
    assert [(h.step, h.place) for h in hits] == [(1, "output")]
    assert len(env.store.search("hay")) == 1  # in every part: one hit for one event, not one a part
    assert hits[0].snippet.endswith("needle")
    assert [h.step for h in env.store.search('"w1 w2"')] == [1] and [h.step for h in env.store.search("w19999")] == [1]


def test_sqlite_and_postgresql_find_the_same(tmp_path, pg_database):
    from tests.labeling.conftest import pg_url

    root = tmp_path / "traces"
    factories.write_batch(root, "b1", _rollouts())
    queries = [
        "zebra", '"index out of range"', "heapq OR bubble", "zebra -grep", "quick*", "rel_path in:args",
        "sorter.py", "zebra model:m-70b", "return", "fix", "x 1", '"x 1"', "arr*",
    ]  # fmt: skip
    with (
        LabelStore(tmp_path / "l.sqlite", labeler="a") as lite,
        LabelStore(pg_url(pg_database), labeler="a", base=root) as pg,
    ):
        lite.ingest([root])
        pg.ingest([root])
        for q in queries:
            got = [h.model_dump() for h in pg.search(q)]
            assert got == [h.model_dump() for h in lite.search(q)], q
            assert got or q == "nothing", q


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from tui.cli import main

    code = main(["search", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_one_line_per_hit_and_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPO_AGENT_LABELER", "alice")
    root = tmp_path / "runs"
    factories.write_batch(root, "b1", _rollouts())
    code, out, err = _cli(capsys, str(root), "zebra")  # ingests first
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and lines[-1] == "2 hits"
    a, b, _ = (r.rollout_id for r in _rollouts())
    assert any(line.startswith(f"b1/{a}") and " step 2 " in line and "output" in line for line in lines)
    assert any(line.startswith(f"b1/{b}") and " step 1 " in line and " args " in line for line in lines)
    assert "\x1b" not in out and "\\x1b]0;owned" in out  # the hostile output's escape, shown not sent
    code, out, _ = _cli(capsys, str(root), "zebra in:output", "--json", "--limit", "5", "--no-ingest")
    (hit,) = json.loads(out)
    assert (hit["uid"], hit["step"], hit["place"], hit["state"]["verdict"]) == (f"b1/{a}", 2, "output", "pass")
    code, out, _ = _cli(capsys, str(root), "rel_path", "--limit", "1", "--no-ingest")
    assert out.splitlines()[-1] == "the newest 1 hit (older ones may match); --limit N for more"


def test_a_search_that_stopped_checking_says_at_least(tmp_path, capsys, monkeypatch):
    """A phrase is checked on at most MAX_CHECKED candidates: when the search stops there with
    candidates left, it says "at least N", never "N hits" as if that were all (here "0 hits"
    would hide the one match, older than the candidates checked)."""
    import labeling.search

    monkeypatch.setenv("REPO_AGENT_LABELER", "alice")
    root = tmp_path / "runs"
    steps = [Step([Call("read_file", {"rel_path": "x.py"}, output="beta alpha")])]
    steps += [Step([Call("read_file", {"rel_path": "x.py"}, output="alpha beta")]) for _ in range(12)]
    factories.write_batch(root, "b1", [Rollout("t_sort", 0, steps=steps)])
    code, out, err = _cli(capsys, str(root), '"beta alpha"', "--limit", "2")
    assert code == 0, err
    assert out.splitlines()[-1] == "1 hit"  # every candidate checked: the one match, and all there is
    monkeypatch.setattr(labeling.search, "MAX_CHECKED", 3)
    with LabelStore(root / "labels.sqlite", labeler="alice") as s:
        hits = s.search('"beta alpha"', limit=1)
        assert hits == [] and hits.unchecked
        assert not s.search("alpha", limit=1).unchecked  # no phrase: every candidate is a hit
    code, out, _ = _cli(capsys, str(root), '"beta alpha"', "--limit", "1", "--no-ingest")
    assert out.splitlines() == ["at least 0 hits (stopped after checking 10 candidates: narrow the query)"]
    code, out, err = _cli(capsys, str(root), '"beta alpha"', "--json", "--limit", "1", "--no-ingest")
    assert json.loads(out) == [] and "at least 0 hits" in err


def test_cli_a_malformed_query_is_one_line_exit_2(tmp_path, capsys):
    root = tmp_path / "runs"
    factories.write_batch(root, "b1", _rollouts())
    code, out, err = _cli(capsys, str(root), '"index out')
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ['error: search: a quote is not closed: end the phrase with "']
    code, _, err = _cli(capsys, str(root), "zebra verdict:great")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown verdict" in err


def test_a_copied_store_fills_its_index_from_its_rows(tmp_path, capsys, monkeypatch):
    from tui.cli import main

    monkeypatch.setenv("REPO_AGENT_LABELER", "alice")
    root = tmp_path / "runs"
    factories.write_batch(root, "b1", _rollouts())
    with LabelStore(root / "labels.sqlite", labeler="alice") as s:
        s.ingest([root])
        assert len(s.search("zebra")) == 2
    copy = tmp_path / "copy.sqlite"
    assert main(["db", "copy", str(root / "labels.sqlite"), str(copy)]) == 0
    capsys.readouterr()
    with LabelStore(copy, labeler="alice", base=root) as s:
        # SQLite: the copy has no index file; the first search fills one from the copied rows,
        # and no trace is ingested again for it (a PostgreSQL copy reads them again at its ingest)
        assert len(s.search("zebra")) == 2 and s.search_progress() is None
        assert s.ingest([root]).files_read == 0


def test_a_line_with_bad_bytes_keeps_its_text_as_the_ingest_read_it():
    """The ingest indexes a line with invalid UTF-8 (escaped by agent/trace_io); the snippet and
    phrase check read it back the same way, not as '' (the hit was silently dropped)."""
    from labeling.search_docs import event_text

    line = b'{"kind": "message", "step": 1, "message": {"role": "assistant", "content": "zebra \xff crossing"}}'
    assert "zebra" in event_text(line, "message")


def test_a_hit_in_a_dead_batchs_running_rollout_reads_interrupted(tmp_path):
    """As on the Rollout screen and in every count: no rollout_end and its batch's process gone
    (its lock held by no one) is interrupted, not running."""
    from agent.batch_meta import LOCK_FILE, batch_lock

    root = tmp_path / "runs"
    r = Rollout("t_sort", 0, steps=[Step([Call("grep", {"pattern": "walrus"}, output="nothing")])], finished=False)
    bdir = factories.write_batch(root, "b1", [r], finished=None)
    (bdir / LOCK_FILE).touch()  # run with the lock, and its process is gone
    with LabelStore(root / "labels.sqlite", labeler="alice") as s:
        s.ingest([root])
        (hit,) = s.search("walrus in:args")
        assert (hit.state.status, hit.state.reason) == ("not_judged", "interrupted")
        assert s.search("walrus in:args state:running") == []  # it is not running any more
        # found by what it reads as, though its row says running
        assert [h.uid for h in s.search("walrus in:args reason:interrupted")] == [hit.uid]
        assert [h.uid for h in s.search("walrus in:args state:not_judged")] == [hit.uid]
        with batch_lock(bdir):  # alive again (a resume): running
            (hit,) = s.search("walrus in:args")
            assert hit.state.status == "running"
            assert s.search("walrus in:args reason:interrupted") == []
            assert s.search("walrus in:args state:not_judged") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_cjk_word_is_found_inside_a_run_of_cjk(env):
    """Chinese and Japanese are written without blanks: a run of them is cut into bigrams
    (labeling/search_query.py tokens), so a word inside a sentence is found, as a phrase."""
    out = "错误：连接数据库失败，请重试"
    steps = [Step([Call("run_tests", {}, output=out)], content="データベースに接続できません")]
    factories.write_batch(env.root, "b1", [Rollout("t_cjk", 0, steps=steps)])
    env.store.ingest([env.root])
    s = env.store
    assert where(s.search("数据库")) == where(s.search('"连接数据库"')) == [("t_cjk__s0", 1, "output")]
    assert where(s.search("接続 in:message")) == [("t_cjk__s0", 1, "message")]
    assert s.search("库数据") == [] and s.search("数据库成功") == []  # not in this order / not there
    (hit,) = s.search("数据库")
    assert hit.snippet == out


def test_find_always_asks_whether_a_running_rollouts_batch_is_alive(tmp_path):
    """labeling/search.py `find`: ``alive`` defaulted to None, and a caller that left it out
    got every running rollout of a dead batch as running (round 12's review). It is required,
    asked once however many running hits, and a hit's state is what it says."""
    import inspect

    from labeling.search import find

    trace = tmp_path / "t.jsonl"
    trace.write_text('{"kind": "tool_call", "name": "grep", "arguments": "walrus"}\n')
    rows = [
        (9 - i, f"{b}/r{i}", f"r{i}", b, 1, "args", 0, str(trace), "t", "m", "running", None, None)
        for i, b in enumerate(["dead", "live", "dead"])
    ]
    asked: list[int] = []

    def alive() -> dict[str, bool]:
        asked.append(1)
        return {"dead": False, "live": True}

    hits = find(lambda q, before, page: rows if before is None else [], parse_search("walrus"), 10, str, alive)
    assert [(h.uid, h.state.status, h.state.reason) for h in hits] == [
        ("dead/r0", "not_judged", "interrupted"),
        ("live/r1", "running", None),
        ("dead/r2", "not_judged", "interrupted"),
    ]
    assert asked == [1]
    assert inspect.signature(find).parameters["alive"].default is inspect.Parameter.empty
