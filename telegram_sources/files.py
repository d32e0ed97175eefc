"""Participant lists as files: JSON (a list of objects) or CSV, as seed 001's CLI wrote them."""

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .gateway import Participant

CSV_COLUMNS = ["id", "username", "first_name", "last_name", "phone", "is_verified", "is_premium", "status"]


def participant_row(p: Participant) -> dict:
    return {
        "id": p.id,
        "username": p.username,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "phone": p.phone,
        "is_verified": p.is_verified,
        "is_premium": p.is_premium,
        "status": p.status,
    }


def output_format(path: str | None, requested: str | None) -> str:
    if requested:
        return requested
    return "csv" if path and path.lower().endswith(".csv") else "json"


def write_rows(rows: Iterable[dict], *, path: str | None, fmt: str, stdout=None) -> int:
    """Write to `path` (atomically: a temp file renamed into place) or to `stdout`."""
    if path is None:
        return _write(rows, stdout or sys.stdout, fmt)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = _write(rows, out, fmt)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


def _write(rows: Iterable[dict], out, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
        return count
    out.write("[")
    for row in rows:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(row, ensure_ascii=False, default=str))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
