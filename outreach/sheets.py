"""The Google Sheets port: read the niches tab, write cells back.

`GspreadSheetsGateway` talks to Google with a service account; `FakeSheetsGateway`
keeps a sheet in memory for tests and the demo. SHEETS_GATEWAY picks one.
Rows and columns are 1-based, as in the sheet; the header row is row 1.
"""

import json
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SheetError(Exception):
    """The sheet cannot be read or written as it is (no access, no such tab, a required column missing)."""


class SheetsGateway(Protocol):
    def read_rows(self) -> list[list[str]]:
        """Every row of the tab, header first, as text."""

    def write_cells(self, cells: list[tuple[int, int, str]]) -> None:
        """(row, column, value) triples, written in one request."""


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class FakeSheetsGateway:
    """A sheet in memory (shared by every instance in the process), grown as cells are written."""

    rows: list[list[str]] = []
    writes: list[list[tuple[int, int, str]]] = []

    @classmethod
    def load(cls, rows: list[list[str]]) -> None:
        cls.rows = [list(map(str, row)) for row in rows]
        cls.writes = []

    def read_rows(self) -> list[list[str]]:
        return [list(row) for row in self.rows]

    def write_cells(self, cells: list[tuple[int, int, str]]) -> None:
        for row, column, value in cells:
            while len(self.rows) < row:
                self.rows.append([])
            line = self.rows[row - 1]
            while len(line) < column:
                line.append("")
            line[column - 1] = str(value)
        type(self).writes.append(list(cells))


class GspreadSheetsGateway:
    """Google Sheets through gspread and a service account (GOOGLE_SA_KEY_FILE or GOOGLE_SA_KEY_JSON)."""

    def __init__(self):
        import gspread  # only here: nothing else needs Google's client

        if not settings.GOOGLE_SHEET_ID:
            raise SheetError("GOOGLE_SHEET_ID is not set")
        try:
            if settings.GOOGLE_SA_KEY_JSON:
                client = gspread.service_account_from_dict(json.loads(settings.GOOGLE_SA_KEY_JSON))
            elif settings.GOOGLE_SA_KEY_FILE:
                client = gspread.service_account(filename=settings.GOOGLE_SA_KEY_FILE)
            else:
                raise SheetError("set GOOGLE_SA_KEY_FILE or GOOGLE_SA_KEY_JSON (a service account key)")
            self.worksheet = client.open_by_key(settings.GOOGLE_SHEET_ID).worksheet(settings.GOOGLE_SHEET_TAB)
        except SheetError:
            raise
        except Exception as exc:  # gspread/google-auth errors: say what failed, never the key
            raise SheetError(f"cannot open tab {settings.GOOGLE_SHEET_TAB!r}: {type(exc).__name__}") from None

    def read_rows(self) -> list[list[str]]:
        return self.worksheet.get_all_values()

    def write_cells(self, cells: list[tuple[int, int, str]]) -> None:
        if cells:
            self.worksheet.batch_update(
                [{"range": f"{column_letter(c)}{r}", "values": [[v]]} for r, c, v in cells],
                value_input_option="RAW",
            )


def get_sheets_gateway() -> SheetsGateway:
    return import_string(settings.SHEETS_GATEWAY)()
