"""Layering rules, read from the source (AST, nothing imported): the API does not reach into the dashboard,
and the pure core imports neither the ORM nor a clock (time is passed in).

A rule names a module (or a package: every module in it) and what it must not use: a module prefix
(``"sqlalchemy"`` forbids ``sqlalchemy`` and ``sqlalchemy.orm``, ``"time"`` forbids ``import time``) or
``CLOCK``, a call reading the clock (``datetime.now()``, ``dt.datetime.utcnow()``, ``date.today()``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CLOCK = "<clock>"
ORM = ("sqlmodel", "sqlalchemy", "camsvc.models", "camsvc.db", "camsvc.alerts.models")
PURE = (*ORM, "time", CLOCK)

RULES: dict[str, tuple[str, ...]] = {
    "camsvc.api": ("camsvc.web",),
    "camsvc.enums": PURE,
    "camsvc.health.state": PURE,
    "camsvc.health.uptime": PURE,
    "camsvc.health.bars": PURE,
    "camsvc.health.stale": PURE,
    "camsvc.web.outlines": PURE,
    "camsvc.reports.availability": PURE,
    "camsvc.picture.measure": PURE,
    "camsvc.picture.baseline": PURE,
    "camsvc.picture.views": PURE,
    "camsvc.picture.judge": PURE,
    "camsvc.recording.policy": PURE,
    "camsvc.recording.health": PURE,
    "camsvc.cases.verify": ("camsvc.db", "camsvc.models", "sqlmodel"),  # runs on a package, no database
}

CLOCK_CALLS = {"now", "utcnow", "today"}  # on datetime / date
CLOCK_OWNERS = {"datetime", "date", "dt"}


def _files(target: str) -> list[Path]:
    base = ROOT / Path(*target.split("."))
    if base.is_dir():
        return sorted(base.rglob("*.py"))
    return [base.with_suffix(".py")]


def _dotted(node: ast.expr) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def _uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every imported module and every clock reading in ``tree``."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call):
            chain = _dotted(node.func)
            if len(chain) >= 2 and chain[-1] in CLOCK_CALLS and chain[-2] in CLOCK_OWNERS:
                out.append((node.lineno, CLOCK))
    return out


def violations(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """One message per line and rule broken, in line order."""
    found: dict[tuple[int, str], str] = {}
    for line, what in _uses(ast.parse(source)):
        f = next((f for f in forbidden if what == f or what.startswith(f + ".")), None)
        if f is not None:
            found.setdefault(
                (line, f), f"line {line}: " + ("reads the clock" if f == CLOCK else f"imports {what}")
            )
    return [found[k] for k in sorted(found)]


@pytest.mark.parametrize(("target", "forbidden"), list(RULES.items()), ids=list(RULES))
def test_layering(target: str, forbidden: tuple[str, ...]) -> None:
    files = _files(target)
    assert files and all(f.is_file() for f in files), f"rule for {target}: no such module (moved?)"
    broken = {
        str(f.relative_to(ROOT)): v
        for f in files
        if (v := violations(f.read_text(encoding="utf-8"), forbidden))
    }
    assert broken == {}


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import time", True),
        ("from time import monotonic", True),
        ("import datetime as dt\nx = dt.datetime.now(dt.UTC)", True),
        ("from datetime import datetime\nx = datetime.utcnow()", True),
        ("import sqlalchemy.orm", True),
        ("from sqlmodel import Session", True),
        ("from camsvc.models import Camera", True),
        ("def f():\n    from camsvc.db import session_scope", True),
        ("from camsvc.enums import HealthState", False),
        ("import datetime as dt\nx = dt.datetime.fromtimestamp(0, dt.UTC)", False),
    ],
)
def test_the_rules_catch_what_they_name(source: str, caught: bool) -> None:
    assert bool(violations(source, PURE)) is caught
