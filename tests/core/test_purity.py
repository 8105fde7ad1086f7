"""What the import-linter contracts (setup.cfg) cannot express about the pure modules.

The contracts keep I/O libraries, the clock and logging out of ``dora.core`` and the wire and
signing modules. They cannot see calls to builtins and stdlib functions that need no import or that
come from an allowed module: ``datetime.now()``, ``date.today()``, ``open()``, ``print()``. This
test reads each pure module with ``ast`` and refuses those calls.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("dora/core",)
PURE_MODULES = ("dora/exchange/wire.py", "dora/exchange/wire_reads.py", "dora/exchange/auth.py")
FORBIDDEN_ATTRIBUTE_CALLS = frozenset({"now", "utcnow", "today", "time", "monotonic",
                                       "perf_counter"})
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__", "breakpoint"})


def violations(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTRIBUTE_CALLS:
            found.append(f"call .{func.attr}()")
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append(f"call {func.id}()")
    return found


def modules_to_check() -> list[str]:
    in_packages = [str(p.relative_to(ROOT)) for pkg in PURE_PACKAGES
                   for p in sorted((ROOT / pkg).rglob("*.py"))]
    return in_packages + list(PURE_MODULES)


def test_the_pure_modules_are_found() -> None:
    assert "dora/core/strategies/classic.py" in modules_to_check()


@pytest.mark.parametrize("path", modules_to_check())
def test_pure_module_reads_no_clock_and_does_no_io(path: str) -> None:
    assert violations((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\ny = datetime.date.today()",
        "from datetime import datetime\nz = datetime.utcnow()",
        "open('f')",
        "print(1)",
    ],
)
def test_the_checker_catches_impure_calls(source: str) -> None:
    assert violations(source) != []


def test_the_checker_accepts_pure_conversions() -> None:
    source = (
        "from datetime import date, timedelta\n"
        "d = date(1970, 1, 1) + timedelta(days=3)\n"
        "text = d.isoformat()\n"
    )
    assert violations(source) == []
