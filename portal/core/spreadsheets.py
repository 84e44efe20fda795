"""Writing CSV and XLSX files whose cells are data, never formulas. Excel and LibreOffice run
a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula, and a `HYPERLINK` formula in
a shared file can send its neighbours' cells anywhere (OWASP "CSV injection"). Every
spreadsheet the portal writes goes through `CsvSheet` or `XlsxSheet`: such text is written as
text; real numbers (int, Decimal) and dates stay numbers and dates.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_text(text: str) -> str:
    """OWASP's advice: a leading single quote, which spreadsheets take as "this is text"."""
    return "'" + text if formula_like(text) else text


class CsvSheet:
    """CSV as French Excel reads it: `;`, CRLF, decimal comma without grouping (`1234,56`),
    dates `22/11/2026`. Any other value is text, neutralised."""

    def __init__(self, handle: TextIO) -> None:
        self._writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")

    def append(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([self._text(value) for value in cells])

    @staticmethod
    def _text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):  # an int too: never a number here
            return csv_text(str(value))
        if isinstance(value, int | Decimal | float):
            # Fixed-point: a Decimal never comes out as `1E+2`.
            return (format(value, "f") if isinstance(value, Decimal) else str(value)).replace(
                ".", ","
            )
        if isinstance(value, dt.datetime):
            return f"{value:%d/%m/%Y %H:%M}"
        if isinstance(value, dt.date):
            return f"{value:%d/%m/%Y}"
        return csv_text(str(value))


class XlsxSheet:
    """A write-only openpyxl sheet that never holds a formula: openpyxl turns any string
    starting with `=` into one, so text cells are typed as strings (`s`), with Excel's quote
    prefix on those that look like formulas so that editing the cell keeps it text."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        # Imported with the first sheet, not when a process starts (0.2 s of CPU each).
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
        from openpyxl.styles import Font

        self.sheet = sheet
        self._new_cell, self._cell_type, self._font = WriteOnlyCell, Cell, Font
        self._illegal = ILLEGAL_CHARACTERS_RE

    def cell(self, value: Any, *, number_format: str | None = None, bold: bool = False) -> Cell:
        if isinstance(value, str):
            # openpyxl refuses control characters with an error that would fail the whole file.
            value = self._illegal.sub("", value)
        cell = self._new_cell(self.sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
            if formula_like(value):
                cell.quotePrefix = True
        if number_format:
            cell.number_format = number_format
        if bold:
            cell.font = self._font(bold=True)
        return cell

    def append(self, cells: Iterable[Any]) -> None:
        row = []
        for value in cells:
            # `WriteOnlyCell` is a factory: its cells are `Cell`s.
            cell = value if isinstance(value, self._cell_type) else self.cell(value)
            if cell.data_type == "f":  # built elsewhere: never let a formula through
                cell.data_type = "s"
                cell.quotePrefix = True
            row.append(cell)
        self.sheet.append(row)
