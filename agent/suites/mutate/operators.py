"""Mutation operators on the AST: each turns one site of a function into a bug.

A mutant is a set of byte-range edits of the original file, not a re-printed AST: the
start state keeps the file's own formatting and comments, so the only difference a
rollout can find is the bug itself (a re-printed file would point at it). Only code
inside functions and methods is mutated; module-level code runs for every test.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from dataclasses import dataclass, field

OPERATORS = (
    "comparison",
    "boolean",
    "arithmetic",
    "off_by_one",
    "negate_condition",
    "swap_args",
    "remove_statement",
    "remove_return",
    "remove_else",
    "swap_variable",
    "default_arg",
)

_CMP = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
_CMP_SWAPS = {
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "==": ("!=",),
    "!=": ("==",),
    "is": ("is not",),
    "is not": ("is",),
    "in": ("not in",),
    "not in": ("in",),
}
_BIN = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
_BIN_SWAPS = {"+": ("-",), "-": ("+",), "*": ("//",), "/": ("*",), "//": ("/",), "%": ("//",), "**": ("*",)}
_BIN_SWAPS |= {"<<": (">>",), ">>": ("<<",)}
_ATOMIC = (ast.Name, ast.Attribute, ast.Call, ast.Subscript)
_NEEDS_PARENS = (ast.BoolOp, ast.IfExp, ast.NamedExpr, ast.Lambda)
_SIMPLE_STMTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)


@dataclass(frozen=True)
class Edit:
    start: int  # byte offsets in the original file
    end: int
    text: bytes


@dataclass
class Mutant:
    path: str  # repository-relative posix path of the mutated file
    function: str  # qualified name: "Class.method", "outer.inner"
    func_lines: tuple[int, int]  # first line (decorators included) and last line
    line: int
    operator: str
    edits: tuple[Edit, ...]
    lines_changed: int = 1
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            h = hashlib.sha1(self.path.encode())
            for e in self.edits:
                h.update(f"|{e.start}:{e.end}:".encode() + e.text)
            self.id = h.hexdigest()[:10]


def apply_edits(source: bytes, edits: tuple[Edit, ...] | list[Edit]) -> bytes:
    """``source`` with ``edits`` applied (they must not overlap)."""
    out = source
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: e.start] + e.text + out[e.end :]
    return out


class _Sites(ast.NodeVisitor):
    def __init__(self, path: str, source: bytes, operators: set[str]):
        self.path = path
        self.src = source
        self.ops = operators
        self.lines = source.split(b"\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.stack: list[tuple[str, tuple[int, int], set[str]]] = []  # (qualname, lines, locals)
        self.names: list[str] = []  # enclosing class/function names
        self.out: list[Mutant] = []

    # ------------------------------------------------------------------ helpers

    def off(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        end_line, end_col = node.end_lineno, node.end_col_offset
        assert end_line is not None and end_col is not None
        return self.off(node.lineno, node.col_offset), self.off(end_line, end_col)

    def text(self, a: int, b: int) -> bytes:
        return self.src[a:b]

    def add(self, op: str, node: ast.expr | ast.stmt, edits: list[Edit], lines: int = 1) -> None:
        if op not in self.ops or not self.stack:
            return
        name, func_lines, _ = self.stack[-1]
        self.out.append(Mutant(self.path, name, func_lines, node.lineno, op, tuple(edits), lines))

    def replace_region(self, op: str, node: ast.expr | ast.stmt, a: int, b: int, old: str, new: str) -> None:
        """Swap the operator token ``old`` found between byte offsets a and b for ``new``."""
        region = self.text(a, b).decode("utf-8", "replace")
        m = re.fullmatch(r"([\s()\\]*)(.*?)([\s()\\]*)", region, re.S)
        if not m or " ".join(m.group(2).split()) != old:
            return  # a comment or line continuation in the way: leave this site alone
        lead, trail = m.group(1), m.group(3)
        if new[0].isalpha() and not lead:
            lead = " "
        if new[-1].isalpha() and not trail:
            trail = " "
        self.add(op, node, [Edit(a, b, (lead + new + trail).encode())])

    def plus_minus(self, op: str, node: ast.expr) -> None:
        """``expr`` -> ``expr + 1`` / ``expr - 1`` (off-by-one in an index, slice bound or range)."""
        if isinstance(node, ast.Constant) or node.lineno != node.end_lineno:
            return  # constants have their own rule; multi-line bounds are rare and ugly to edit
        if isinstance(node, ast.BinOp) and isinstance(node.right, ast.Constant):
            return  # i - 1: the constant rule already makes i - 0 and i - 2
        if not (isinstance(node, _ATOMIC) or (isinstance(node, ast.BinOp) and type(node.op) in _BIN)):
            return
        a, b = self.span(node)
        for delta in (b" + 1", b" - 1"):
            self.add(op, node, [Edit(b, b, delta)])

    def whole_lines(self, first: ast.stmt, last: ast.stmt) -> tuple[int, int] | None:
        """Byte range of the lines ``first``..``last`` occupy, if nothing else shares them."""
        end_line, end_col = last.end_lineno, last.end_col_offset
        assert end_line is not None and end_col is not None
        head = self.lines[first.lineno - 1][: first.col_offset]
        tail = self.lines[end_line - 1][end_col:]
        if head.strip() or (tail.strip() and not tail.strip().startswith(b"#")):
            return None
        a = self.starts[first.lineno - 1]
        b = self.starts[end_line] if end_line < len(self.starts) else len(self.src)
        return a, b

    # ------------------------------------------------------------------ scopes

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.names.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        qual = ".".join([*self.names, node.name])
        local: set[str] = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        in_comprehension: set[int] = set()  # their targets live in the comprehension's own scope
        for sub in ast.walk(node):
            if isinstance(sub, ast.comprehension):
                in_comprehension |= {id(n) for n in ast.walk(sub.target)}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and id(sub) not in in_comprehension:
                local.add(sub.id)
        end_line = node.end_lineno
        assert end_line is not None
        self.stack.append((qual, (first, end_line), local))
        self.names.append(node.name)
        self.default_args(node)
        self.statement_sites(node)
        for stmt in node.body:
            self.visit(stmt)
        self.names.pop()
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def default_args(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in [*node.args.defaults, *[k for k in node.args.kw_defaults if k is not None]]:
            if isinstance(d, ast.Constant):
                for new in _const_variants(d.value):
                    a, b = self.span(d)
                    self.add("default_arg", d, [Edit(a, b, new.encode())])

    def generic_visit(self, node: ast.AST) -> None:
        if self.stack and isinstance(node, ast.stmt):
            self.statement_sites(node)
        super().generic_visit(node)

    # ------------------------------------------------------------------ sites

    def statement_sites(self, node: ast.stmt) -> None:
        for body_name in ("body", "orelse", "finalbody"):
            body = getattr(node, body_name, None)
            if not isinstance(body, list) or len(body) < 2:
                continue
            for i, stmt in enumerate(body):
                is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                if isinstance(stmt, _SIMPLE_STMTS) and not is_doc:
                    op = "remove_statement"
                elif isinstance(stmt, ast.Return) and stmt.value is not None:
                    op = "remove_return"
                else:
                    continue
                rng = self.whole_lines(stmt, stmt)
                if rng:
                    stmt_end = stmt.end_lineno
                    assert stmt_end is not None
                    self.add(op, stmt, [Edit(rng[0], rng[1], b"")], stmt_end - stmt.lineno + 1)
        if isinstance(node, ast.If) and node.orelse:
            self.else_site(node)

    def else_site(self, node: ast.If) -> None:
        first = node.orelse[0]
        last = node.orelse[-1]
        body_end = node.body[-1].end_lineno
        end_line, end_col = last.end_lineno, last.end_col_offset
        assert body_end is not None and end_line is not None and end_col is not None
        # The `else:` / `elif` line sits between the end of the body and the first orelse stmt.
        for ln in range(first.lineno, body_end, -1):
            text = self.lines[ln - 1].split(b"#")[0].strip()
            if ln == first.lineno and text.startswith(b"elif"):
                break
            if text == b"else:":
                break
        else:
            return
        tail = self.lines[end_line - 1][end_col:]
        if tail.strip() and not tail.strip().startswith(b"#"):
            return
        a = self.starts[ln - 1]
        b = self.starts[end_line] if end_line < len(self.starts) else len(self.src)
        self.add("remove_else", node, [Edit(a, b, b"")], end_line - ln + 1)

    def visit_If(self, node: ast.If) -> None:
        self.negate(node.test)
        self.generic_visit(node)

    def visit_While(self, node: ast.While) -> None:
        self.negate(node.test)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.negate(node.test)
        self.generic_visit(node)

    def negate(self, test: ast.expr) -> None:
        a, b = self.span(test)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            oa = self.off(test.operand.lineno, test.operand.col_offset)
            region = self.text(a, oa)
            new = re.sub(rb"^not\s*", b"", region)
            if new != region:
                self.add("negate_condition", test, [Edit(a, oa, new)])
            return
        if isinstance(test, _NEEDS_PARENS):
            self.add("negate_condition", test, [Edit(a, a, b"not ("), Edit(b, b, b")")])
        else:
            self.add("negate_condition", test, [Edit(a, a, b"not ")])

    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            old = _CMP[type(op)]
            a, b = self.span(left)[1], self.span(right)[0]
            for new in _CMP_SWAPS[old]:
                self.replace_region("comparison", node, a, b, old, new)
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        edits: list[Edit] = []
        for left, right in zip(node.values, node.values[1:]):
            a, b = self.span(left)[1], self.span(right)[0]
            region = self.text(a, b).decode("utf-8", "replace")
            if region.count(old) != 1 or "#" in region:
                edits = []
                break
            edits.append(Edit(a, b, region.replace(old, new).encode()))
        if edits:
            self.add("boolean", node, edits)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        old = _BIN.get(type(node.op))
        if old in _BIN_SWAPS and not _is_str_format(node):
            a, b = self.span(node.left)[1], self.span(node.right)[0]
            for new in _BIN_SWAPS[old]:
                self.replace_region("arithmetic", node, a, b, old, new)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        old = _BIN.get(type(node.op))
        if old in _BIN_SWAPS:
            a, b = self.span(node.target)[1], self.span(node.value)[0]
            for new in _BIN_SWAPS[old]:
                self.replace_region("arithmetic", node, a, b, old + "=", new + "=")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bool):
            a, b = self.span(node)
            self.add("boolean", node, [Edit(a, b, str(not node.value).encode())])
        elif isinstance(node.value, int) and abs(node.value) < 10**9:
            a, b = self.span(node)
            for new in _const_variants(node.value):
                self.add("off_by_one", node, [Edit(a, b, new.encode())])

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load):
            sl = node.slice
            if isinstance(sl, ast.Slice):
                for bound in (sl.lower, sl.upper):
                    if bound is not None:
                        self.plus_minus("off_by_one", bound)
            elif isinstance(sl, (ast.Name, ast.BinOp)):
                self.plus_minus("off_by_one", sl)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "range" and node.args and not node.keywords:
            self.plus_minus("off_by_one", node.args[0] if len(node.args) == 1 else node.args[1])
        args = node.args
        if not any(isinstance(x, ast.Starred) for x in args):
            for x, y in zip(args, args[1:]):
                xa, xb = self.span(x)
                ya, yb = self.span(y)
                tx, ty = self.text(xa, xb), self.text(ya, yb)
                if tx != ty:
                    self.add("swap_args", node, [Edit(xa, yb, ty + self.text(xb, ya) + tx)])
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and self.stack:
            local = self.stack[-1][2]
            if node.id in local:
                others = sorted(n for n in local if n != node.id and not n.startswith("_"))
                a, b = self.span(node)
                for other in _nearest(others, node.id, 2):
                    self.add("swap_variable", node, [Edit(a, b, other.encode())])

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.generic_visit(node)


def _nearest(names: list[str], name: str, k: int) -> list[str]:
    """Up to ``k`` other names, the ones sorting next to ``name`` (deterministic, varied)."""
    if not names:
        return []
    import bisect

    i = bisect.bisect_left(names, name)
    picks = []
    for j in range(k):  # alternate: the next name up, the next name down, ...
        picks += [names[(i + j) % len(names)], names[(i - 1 - j) % len(names)]]
    out: list[str] = []
    for p in picks:
        if p not in out:
            out.append(p)
    return out[:k]


def _const_variants(value: object) -> list[str]:
    if isinstance(value, bool):
        return [str(not value)]
    if isinstance(value, int):
        return [str(value + 1)] + ([str(value - 1)] if value != 0 else [])
    return []


def _is_str_format(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)


def mutants_for_file(path: str, source: bytes, operators: set[str] | None = None) -> list[Mutant]:
    """Every mutant of ``source`` (the file at repository path ``path``) that still parses."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    sites = _Sites(path, source, set(operators or OPERATORS))
    for stmt in tree.body:
        sites.visit(stmt)
    out: list[Mutant] = []
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    alone: dict[tuple[int, int], bool] = {}  # does a function parse on its own, by line range
    for m in sites.out:
        if _parses(source, m, starts, alone):
            out.append(m)  # else e.g. a removed statement that leaves an empty block
    return out


def _parses(source: bytes, m: Mutant, starts: list[int], alone: dict[tuple[int, int], bool]) -> bool:
    """Does the file still parse with ``m``? Its function alone is parsed first (a large
    file would be re-parsed whole per mutant); the whole file decides when that is unsure."""
    a, b = starts[m.func_lines[0] - 1], starts[min(m.func_lines[1], len(starts) - 1)]
    if all(a <= e.start and e.end <= b for e in m.edits):
        if (a, b) not in alone:
            try:
                ast.parse(textwrap.dedent(source[a:b].decode("utf-8")))
                alone[(a, b)] = True
            except (SyntaxError, ValueError):
                alone[(a, b)] = False  # it does not parse alone (odd indentation, nonlocal)
        if alone[(a, b)]:
            edits = tuple(Edit(e.start - a, e.end - a, e.text) for e in m.edits)
            try:
                ast.parse(textwrap.dedent(apply_edits(source[a:b], edits).decode("utf-8")))
                return True
            except (SyntaxError, ValueError):
                pass  # the whole file decides
    try:
        ast.parse(apply_edits(source, m.edits))
        return True
    except (SyntaxError, ValueError):
        return False
