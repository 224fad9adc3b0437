"""`repo-agent report` and `stats --plot`: one chart module, every value escaped, and a page
that, opened in Chromium, makes no request even when a trace holds an <img src=http://...>."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labeling.store import LabelStore
from tests.labeling.conftest import Call, Spec, make_batch, make_patch
from tui.charts import Bar, BarChart, chart_svg
from tui.cli import main


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Counting.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def bait():
    """A local server the hostile traces point at: any request the report makes lands here."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _hostile(root: Path, port: int) -> None:
    img = f"<img src=http://127.0.0.1:{port}/img>"
    evil = f'{img}<script>fetch("http://127.0.0.1:{port}/js")</script><style>@import "http://127.0.0.1:{port}/css";</style>'
    calls = [[Call("read_file", {"rel_path": "prog.py"})]] * 2
    specs = [
        Spec(
            "t<b>1", 1, passed=True, patch=make_patch("prog.py", ["    return x - 1"], [f"    return x + 1  # {evil}"])
        ),
        Spec("t<b>1", 2, patch=make_patch("prog.py", ["    return x - 1"], ["    return 0"]), summary=evil),
        Spec("t2", 1, passed=True, patch=make_patch("a.py", ["a"], ["b"]), extra_text=img, calls=calls),
        Spec("t2", 2, extra_text=img, calls=calls),
        Spec("t3", 1, passed=True, patch=make_patch("c.py", ["c"], ["d"])),
        Spec("t3", 2),
    ]
    make_batch(root, "b1", specs)
    with LabelStore(LabelStore.default_path(root), labeler=f"mallory{img}") as store:
        store.ingest([root])
        hostile = next(p for p in store.pairs() if p.task_id == "t<b>1")  # labeled: shown first
        store.set_verdict(hostile.pair_id, "flip", note=evil)


def test_report_is_escaped_self_contained_and_fetches_nothing(tmp_path, bait, browser, capsys):
    root = tmp_path / "traces"
    _hostile(root, bait)
    out = tmp_path / "report.html"
    assert main(["report", str(root), "--out", str(out), "--max-pairs", "2"]) == 0
    assert "2 of 3 pairs, 1 left out" in capsys.readouterr().out
    page_html = out.read_text()
    assert "<img" not in page_html and "<script" not in page_html and "<style>@import" not in page_html
    assert "&lt;img src=http://127.0.0.1" in page_html and "default-src &#x27;none&#x27;" not in page_html
    assert "content=\"default-src 'none'" in page_html
    assert "1 left out" in page_html and "<svg" in page_html

    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    text = page.inner_text("body")
    assert f"<img src=http://127.0.0.1:{bait}/img>" in text  # shown as text
    assert "flip" in text and "mallory" in text and "Pass rate per task" in text
    assert page.evaluate("document.images.length") == 0 and page.evaluate("document.scripts.length") == 0
    page.set_viewport_size({"width": 700, "height": 900})  # a narrow window: sides stack, nothing loads
    page.reload()
    page.close()
    assert requests == [out.as_uri(), out.as_uri()] and _Counting.hits == []


def test_chart_svg_escapes_labels_and_is_well_formed():
    chart = BarChart(
        'pass rate <script>"x"</script>',
        (Bar("t<1>&", 0.5, note="1/2"), Bar("t2", 0.0, note="no verdict", tone="muted")),
        unit="rate",
        band=(0.2, 0.6),
    )
    svg = chart_svg(chart)
    tree = ET.fromstring(svg)  # well-formed XML, so nothing in a label escaped into markup
    texts = [t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert 'pass rate <script>"x"</script>' in texts and "t<1>&" in texts and "50%  1/2" in texts
    assert not list(tree.iter("{http://www.w3.org/2000/svg}script"))


def test_stats_plot_writes_svg_and_png(tmp_path, capsys):
    root = tmp_path / "traces"
    make_batch(root, "b1", [Spec("t1", 1, passed=True, patch=make_patch("p.py", ["a"], ["b"])), Spec("t1", 2)])
    assert main(["stats", str(root), "--plot", str(tmp_path / "s.svg")]) == 0
    svg = (tmp_path / "s.svg").read_text()
    assert "Pass rate per task" in svg and "t1" in svg
    assert main(["stats", str(root), "--plot", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["stats", str(root), "--plot", str(tmp_path / "s.gif")]) == 2
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")]) == 2
    assert "give a .svg or .png file" in capsys.readouterr().err
