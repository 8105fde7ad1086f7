"""The pure core imports no I/O library, reads no clock and does not log (design.md, issue 4).

The check reads each module's imports with ``ast``: only pure stdlib modules and dora's other pure
modules may be imported, and calls such as ``datetime.now()``, ``date.today()``, ``open()`` or
``print()`` are refused even though ``datetime`` itself is allowed for pure conversions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_MODULES = (
    "dora/units.py",
    "dora/models.py",
    "dora/ticks.py",
    "dora/tiers.py",
    "dora/errors.py",
    "dora/market_config.py",
    "dora/strategy.py",
    "dora/strategy_record.py",
    "dora/pricing.py",
    "dora/fair_value.py",
    "dora/grid.py",
    "dora/diff.py",
    "dora/positions.py",
    "dora/risk.py",
    "dora/overlay.py",
    "dora/records.py",
    "dora/store_codec.py",
)
PURE_IF_PRESENT = ("dora/exchange/wire.py", "dora/exchange/wire_reads.py", "dora/exchange/auth.py")
ALLOWED_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "bisect",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "itertools",
        "json",
        "math",
        "operator",
        "re",
        "string",
        "types",
        "typing",
        "urllib.parse",
    }
)
ALLOWED_THIRD_PARTY = ("cryptography",)  # request signing is computation, not I/O
FORBIDDEN_ATTRIBUTE_CALLS = frozenset({"now", "utcnow", "today"})
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__", "breakpoint"})


def pure_dora_modules() -> frozenset[str]:
    return frozenset(
        p.removesuffix(".py").replace("/", ".") for p in PURE_MODULES + PURE_IF_PRESENT
    )


def import_allowed(name: str) -> bool:
    if name in ALLOWED_STDLIB or name in pure_dora_modules():
        return True
    return any(name == lib or name.startswith(lib + ".") for lib in ALLOWED_THIRD_PARTY)


def violations(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if not import_allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or not import_allowed(module):
                found.append(f"from {'.' * node.level}{module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTRIBUTE_CALLS:
                found.append(f"call .{func.attr}()")
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"call {func.id}()")
    return found


def modules_to_check() -> list[str]:
    present = [p for p in PURE_IF_PRESENT if (ROOT / p).exists()]
    return [*PURE_MODULES, *present]


@pytest.mark.parametrize("path", modules_to_check())
def test_pure_module_imports_no_io_and_reads_no_clock(path: str) -> None:
    assert violations((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import requests",
        "import logging",
        "import time",
        "from os import path",
        "import random",
        "import socket",
        "import boto3",
        "import threading",
        "from dora.clock import SystemClock",
        "from dora.store import Store",
        "from . import models",
        "import dora.exchange.client",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\ny = datetime.date.today()",
        "from datetime import datetime\nz = datetime.utcnow()",
        "open('f')",
        "print(1)",
    ],
)
def test_the_checker_catches_impure_code(source: str) -> None:
    assert violations(source) != []


def test_the_checker_accepts_pure_conversions() -> None:
    source = (
        "from datetime import date, timedelta\n"
        "from fractions import Fraction\n"
        "from dora.units import Price\n"
        "d = date(1970, 1, 1) + timedelta(days=3)\n"
    )
    assert violations(source) == []
