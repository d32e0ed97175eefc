"""The Google Sheets port: read the niches tab, write cells back.

`GspreadSheetsGateway` talks to Google with a service account; `FakeSheetsGateway`
keeps a sheet in memory for tests, or in the JSON file FAKE_SHEET_FILE for the demo.
SHEETS_GATEWAY picks one.
Rows and columns are 1-based, as in the sheet; the header row is row 1.
"""

import json
import os
import tempfile
from pathlib import Path
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
    """A sheet in memory (shared by every instance in the process), grown as cells are written.

    With FAKE_SHEET_FILE set (the demo) the rows live in that JSON file (a list of rows, each a
    list of cells) and are read from it before every read and write: the demo's web process, its
    worker and a command run by hand are separate processes and must see one sheet.
    """

    rows: list[list[str]] = []
    writes: list[list[tuple[int, int, str]]] = []

    @classmethod
    def load(cls, rows: list[list[str]]) -> None:
        cls.rows = [list(map(str, row)) for row in rows]
        cls.writes = []
        cls._save()

    def read_rows(self) -> list[list[str]]:
        self._refresh()
        return [list(row) for row in self.rows]

    def write_cells(self, cells: list[tuple[int, int, str]]) -> None:
        self._refresh()
        for row, column, value in cells:
            while len(self.rows) < row:
                self.rows.append([])
            line = self.rows[row - 1]
            while len(line) < column:
                line.append("")
            line[column - 1] = str(value)
        type(self).writes.append(list(cells))
        self._save()

    @staticmethod
    def file() -> Path | None:
        name = getattr(settings, "FAKE_SHEET_FILE", "")
        return Path(settings.BASE_DIR, name) if name else None  # relative to the project, like var/

    @classmethod
    def _refresh(cls) -> None:
        path = cls.file()
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                data = []
            except ValueError as exc:
                raise SheetError(f"FAKE_SHEET_FILE {path} is not JSON: {exc}") from None
            if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
                raise SheetError(f"FAKE_SHEET_FILE {path} must hold a JSON list of rows (lists of cells)")
            cls.rows = [[str(cell) for cell in row] for row in data]

    @classmethod
    def _save(cls) -> None:
        path = cls.file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: another process never reads half a sheet.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sheet-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # a row a line: easy to edit by hand
            out.write("[\n" + ",\n".join(json.dumps(row, ensure_ascii=False) for row in cls.rows) + "\n]\n")
        os.replace(tmp, path)


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
