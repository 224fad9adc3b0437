"""The SUSPECT scan's peak host memory and CPU over a source the patch shows only by hash
(round 12 r12-4: the AST pass parsed any such source, ~480 bytes of host memory a byte).
Each case runs in its own process; prints its peak RSS (ru_maxrss) before and after the
scan, the scan's CPU seconds and its hits. Usage: uv run python bench/suspect_scan_memory.py"""

from __future__ import annotations

import subprocess
import sys

_CASE = """
import hashlib, json, resource, sys, time
from agent.patch_format import large_file_diff
from agent.suspect import scan_patch
text = {text}
data = text.encode()
patch = large_file_diff("table.py", None, (len(data), hashlib.sha256(data).hexdigest()))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.process_time()
hits = scan_patch(patch, ["tests"], lambda rel: None, lambda rel: text if rel == "table.py" else None)
took = time.process_time() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_mb": before // 1024, "after_mb": after // 1024, "cpu_s": round(took, 2),
                  "hits": sorted({{h.rule for h in hits}})}}))
"""

CASES = {
    "list of 400k ints (800 kB)": '"TABLE = [" + "0," * 400_000 + "]\\n"',
    "one string (800 kB)": '"TABLE = \'" + "0," * 400_000 + "\'\\n"',
    "list of 4M ints (8 MB)": '"TABLE = [" + "0," * 4_000_000 + "]\\n"',
    "f-string of 400k fields (2 MB)": '"X = f\'" + "{0}" * 400_000 + "\'\\n"',
    "8M blank lines (8 MB)": '"\\n" * 8_000_000 + "x = 1\\n"',
    "docstring of 4M lines (8 MB)": '"X = \\"\\"\\"" + "a\\n" * 4_000_000 + "\\"\\"\\"\\n"',
    "just under the cap: a list of 29,990 ints": '"TABLE = [" + "0," * 29_990 + "]\\n"',
    "just under the cap: 29,990 negations": '"X = " + "-1" * 29_990 + "\\n"',
    "a real module (agent/suspect_ast.py)": 'open("agent/suspect_ast.py").read()',
}


def main() -> None:
    only = sys.argv[1:]
    for name, text in CASES.items():
        if only and not any(o in name for o in only):
            continue
        cp = subprocess.run([sys.executable, "-c", _CASE.format(text=text)], capture_output=True, text=True)
        out = cp.stdout.strip().splitlines()[-1] if cp.stdout.strip() else cp.stderr.strip()[-300:]
        print(f"{name}: {out}")


if __name__ == "__main__":
    main()
