"""Bringing join targets in: pasted links or a CSV, all lines valid or nothing written."""

import csv
import io
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from ..links import BadLink, TargetRef, parse_link
from ..models import JoinTarget

log = logging.getLogger(__name__)

NICHE_MAX = JoinTarget._meta.get_field("niche").max_length
LINK_MAX = JoinTarget._meta.get_field("link").max_length
TITLE_MAX = JoinTarget._meta.get_field("title").max_length


# --- join targets: pasted links or a CSV --------------------------------------------------------


class TargetImportError(Exception):
    """Some lines are invalid (each message names its line). Nothing was written."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class TargetLine:
    line: int
    link: str
    niche: str
    ref: TargetRef
    title: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.niche, self.ref.username, self.ref.invite_hash


@dataclass
class TargetImportResult:
    added: list[JoinTarget] = field(default_factory=list)
    already: int = 0  # in the database already, or repeated in the input

    def summary(self) -> str:
        return f"{len(self.added)} added, {self.already} already there"


def _target_line(line: int, link: str, niche: str, title: str, errors: list[str]) -> TargetLine | None:
    link, niche, title = link.strip(), niche.strip(), title.strip()
    problems = []
    if not niche:
        problems.append("no niche (fill in the niche field, or a niche column)")
    elif len(niche) > NICHE_MAX:
        problems.append(f"niche is longer than {NICHE_MAX} characters")
    if len(link) > LINK_MAX:
        problems.append(f"link is longer than {LINK_MAX} characters")
    if len(title) > TITLE_MAX:
        problems.append(f"title is longer than {TITLE_MAX} characters")
    try:
        ref = parse_link(link)
    except BadLink as exc:
        problems.append(str(exc))
        ref = None
    if problems:
        errors.append(f"line {line}: {'; '.join(problems)}")
        return None
    return TargetLine(line=line, link=link, niche=niche, ref=ref, title=title)


def parse_target_text(text: str, *, niche: str) -> list[TargetLine]:
    """One link per line; blank lines and lines starting with # are skipped."""
    lines, errors = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if parsed := _target_line(number, raw, niche, "", errors):
            lines.append(parsed)
    if errors:
        raise TargetImportError(errors)
    return lines


def parse_target_csv(data: bytes | str, *, niche: str = "") -> list[TargetLine]:
    """A CSV with a header: `link` (required), `niche` and `title` (optional); `niche` defaults to the argument."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TargetImportError([f"the file is not UTF-8 text (bad byte at offset {exc.start})"]) from None
    sample = data[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(data, newline=""), dialect=dialect)
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "link" not in columns:
        raise TargetImportError(
            ["line 1: the header has no 'link' column (expected link, and optionally niche, title)"]
        )
    lines, errors = [], []
    try:
        for row in reader:
            cells = {column: row.get(name) or "" for column, name in columns.items()}
            link = cells["link"]
            if not link.strip():
                if any(isinstance(value, str) and value.strip() for value in row.values()):
                    errors.append(f"line {reader.line_num}: the link is empty")
                continue
            niche_cell = cells.get("niche", "").strip()
            if parsed := _target_line(reader.line_num, link, niche_cell or niche, cells.get("title", ""), errors):
                lines.append(parsed)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not valid CSV: {exc}")
    if errors:
        raise TargetImportError(errors)
    return lines


def import_targets(*, lines: list[TargetLine]) -> TargetImportResult:
    """Add the targets not there yet (same niche and username, or niche and invite), in one transaction."""
    result = TargetImportResult()
    with transaction.atomic():
        niches = {line.niche for line in lines}
        present = {
            (niche, username, invite)
            for niche, username, invite in JoinTarget.objects.filter(niche__in=niches).values_list(
                "niche", "username", "invite_hash"
            )
        }
        known_usernames = {(niche, username) for niche, username, _ in present if username}
        known_invites = {(niche, invite) for niche, _, invite in present if invite}
        new = []
        for line in lines:
            niche, username, invite = line.key
            if (niche, username) in known_usernames or (niche, invite) in known_invites:
                result.already += 1
                continue
            if username:
                known_usernames.add((niche, username))
            else:
                known_invites.add((niche, invite))
            new.append(JoinTarget(link=line.link, username=username, invite_hash=invite, niche=niche, title=line.title))
        try:
            with transaction.atomic():
                result.added = JoinTarget.objects.bulk_create(new)
        except IntegrityError:
            raise TargetImportError(
                ["some of these links were added by someone else meanwhile: nothing was written, try again"]
            ) from None
    log.info("import_targets: %s", result.summary())
    return result
