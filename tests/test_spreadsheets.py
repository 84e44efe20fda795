"""The one writer of CSV and XLSX cells: text that a spreadsheet would run is written as text,
real numbers and dates keep their type (what `tests/payments/test_exports.py` checks through
HTTP, here for every dangerous first character)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from openpyxl import Workbook

from portal.core.spreadsheets import CsvSheet, XlsxSheet

DANGEROUS = ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x/","y")']


class TestCsv:
    @pytest.mark.parametrize("text", DANGEROUS)
    def test_text_that_looks_like_a_formula_starts_with_a_quote(self, text: str) -> None:
        handle = io.StringIO()
        CsvSheet(handle).append([text])
        [[cell]] = list(csv.reader(io.StringIO(handle.getvalue()), delimiter=";"))
        assert cell == "'" + text

    def test_real_negative_numbers_and_dates_stay_as_they_are(self) -> None:
        handle = io.StringIO()
        CsvSheet(handle).append([Decimal("-12.30"), -5, dt.date(2026, 3, 1), None, "ok"])
        assert handle.getvalue() == "-12,30;-5;01/03/2026;;ok\r\n"


class TestXlsx:
    def test_no_cell_is_a_formula_and_numbers_stay_numbers(self) -> None:
        book = Workbook(write_only=True)
        sheet = XlsxSheet(book.create_sheet("test"))
        sheet.append([*DANGEROUS, Decimal("-12.30"), -5, "bell\x07"])
        data = io.BytesIO()
        book.save(data)
        [row] = list(openpyxl.load_workbook(io.BytesIO(data.getvalue())).active.iter_rows())  # type: ignore[union-attr]
        assert [c.value for c in row[: len(DANGEROUS)]] == DANGEROUS
        assert all(c.data_type == "s" and c.quotePrefix for c in row[: len(DANGEROUS)])
        assert [c.data_type for c in row[len(DANGEROUS) :]] == ["n", "n", "s"]
        assert row[-3].value == -12.3 and row[-2].value == -5
        assert row[-1].value == "bell"  # openpyxl would refuse the whole file
