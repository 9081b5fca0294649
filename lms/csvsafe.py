"""CSV that is safe to open in a spreadsheet (no formula injection).

A cell that starts with = + - @ (or a tab or carriage return) is run as a formula by Excel,
LibreOffice and Google Sheets: a provider name like `=HYPERLINK(...)` in an export would run
on the inspector's computer. Such text cells get a leading apostrophe, which spreadsheets show
as text and do not display. Numbers are left alone. (OWASP: CSV injection.) Anyone re-hashing
an exported audit row must drop that leading apostrophe first.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose rows are neutralised cell by cell."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(v) for v in row])


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: cell(v) for k, v in rowdict.items()})
