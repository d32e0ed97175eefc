"""Opt-outs from a CSV file: every line checked first, then all written in one transaction, or none."""

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from ..models import OptOut
from ..normalize import InvalidURL, canonical_domain
from ..optouts import record_opt_out

MAX_BYTES = 5 * 1024 * 1024
HEADER_WORDS = {"email", "e-mail", "domain", "address", "почта", "домен"}


class OptOutImportError(ValueError):
    """The file cannot be imported as it is (the message names the line)."""


@dataclass
class ImportResult:
    created: int = 0
    existing: int = 0


def parse_opt_outs(data: bytes) -> list[tuple[str, str]]:
    """[(email, ""), ("", domain)] from the first column; raises OptOutImportError on any bad line."""
    if len(data) > MAX_BYTES:
        raise OptOutImportError("the file is larger than 5 MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OptOutImportError("the file is not UTF-8 text") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:  # one column: nothing to sniff
        dialect = csv.excel
    entries = []
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        value = (row[0] if row else "").strip().lower()
        if not value or (number == 1 and value in HEADER_WORDS):
            continue
        entries.append(_entry(value, number))
    if not entries:
        raise OptOutImportError("the file has no e-mail addresses or domains")
    return entries


def _entry(value: str, number: int) -> tuple[str, str]:
    if "@" in value.lstrip("@"):
        try:
            validate_email(value)
        except ValidationError:
            raise OptOutImportError(f"line {number}: {value!r} is not a valid e-mail address") from None
        return value, ""
    try:
        return "", canonical_domain(value.lstrip("@*."))
    except InvalidURL:
        raise OptOutImportError(f"line {number}: {value!r} is neither an e-mail address nor a domain") from None


@transaction.atomic
def import_opt_outs(*, data: bytes, reason: str = "", source: str = "csv import") -> ImportResult:
    entries = parse_opt_outs(data)
    result = ImportResult()
    for email, domain in dict.fromkeys(entries):
        known = OptOut.objects.filter(email=email, domain=domain).exists()
        record_opt_out(email=email, domain=domain, reason=reason, source=source)
        result.existing += known
        result.created += not known
    return result
