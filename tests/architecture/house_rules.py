"""House rules as small AST checks over the source (Zulip's custom_check.py, Saleor's .semgrep).

Each check takes one module's source and returns its violations as (line, what) pairs, so a test can
run it on a good and a bad example as well as on the whole package.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "cadenza"

Violation = tuple[int, str]
Check = Callable[[str], list[Violation]]


@functools.cache
def _tree(source: str) -> ast.Module:
    return ast.parse(source)  # parsed once for all the rules


def _calls(source: str) -> Iterator[ast.Call]:
    for node in ast.walk(_tree(source)):
        if isinstance(node, ast.Call):
            yield node


def _name(node: ast.expr) -> str:
    """`a.b.c` for an attribute chain of names, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _name(node.value)
        return f"{owner}.{node.attr}" if owner else ""
    return ""


WALL_CLOCK_PRAGMA = "# wall-clock:"


def wall_clock_reads(source: str) -> list[Violation]:
    """`datetime.now()`, `datetime.utcnow()`, `date.today()`, `time.time()`: business time comes from the
    injected Clock. Monotonic timers (`time.monotonic`, `time.perf_counter`) measure durations and are fine,
    and so is a line that says why it needs the machine's own clock (`# wall-clock: file mtimes are…`)."""
    lines = source.splitlines()
    found = []
    for call in _calls(source):
        if WALL_CLOCK_PRAGMA in lines[call.lineno - 1]:
            continue
        name = _name(call.func)
        parts = name.split(".")
        if len(parts) < 2:
            continue
        owner, method = parts[-2], parts[-1]
        if (owner == "datetime" and method in ("now", "utcnow", "today")) or (owner == "date" and method == "today") \
                or name == "time.time":
            found.append((call.lineno, f"{name}()"))
    return found


def commits(source: str) -> list[Violation]:
    """`.commit()`: only the unit of work in cadenza.storage commits."""
    return [(call.lineno, f"{_name(call.func) or '….commit'}()") for call in _calls(source)
            if isinstance(call.func, ast.Attribute) and call.func.attr == "commit"]


def prints(source: str) -> list[Violation]:
    """`print()`: the application logs; only the CLI writes to the terminal."""
    return [(call.lineno, "print()") for call in _calls(source)
            if isinstance(call.func, ast.Name) and call.func.id == "print"]


def violations(check: Check, *, allowed: Callable[[str], bool]) -> list[str]:
    """Every violation of `check` in the package, as 'path:line what', skipping allowed module paths
    (relative to src/cadenza, with forward slashes)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if allowed(relative):
            continue
        for line, what in check(path.read_text(encoding="utf-8")):
            found.append(f"{relative}:{line} {what}")
    return found
