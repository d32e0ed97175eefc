"""The demo mailbox: an admin page listing the emails the demo SMTP server captured.

`make demo`'s SMTP emulator (tests/emulators/run_smtp.py) writes every email it receives
as an .eml file into DEMO_MAIL_DIR; this page reads them, newest first. Without that
setting the page does not exist (404) and the messages list shows no link to it.
"""

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext

SHOWN = 200  # newest files listed; the demo never gets near it, a forgotten directory might
PREVIEW = 120  # characters of the body shown before the full text is unfolded
MAX_BYTES = 1024 * 1024  # a file bigger than any email the pipeline writes is listed, not parsed


@dataclass(frozen=True)
class CapturedEmail:
    file: str
    sender: str
    to: str
    subject: str
    date: object  # datetime, or the header as written when it does not parse
    list_unsubscribe: str
    list_unsubscribe_post: str
    message_id: str
    body: str

    @property
    def unsubscribe_urls(self) -> list[str]:
        """The header's <...> entries: a mailto: and the link the unsubscribe page answers (clickable in the demo)."""
        return re.findall(r"<([^<>\s]+)>", self.list_unsubscribe)

    @property
    def preview(self) -> str:
        return self.body if len(self.body) <= PREVIEW else self.body[:PREVIEW].rstrip() + " …"


def mail_dir() -> Path | None:
    value = getattr(settings, "DEMO_MAIL_DIR", "")
    return Path(settings.BASE_DIR, value) if value else None  # relative to the project, like var/


def read_email(file: Path) -> CapturedEmail:
    if file.stat().st_size > MAX_BYTES:
        return CapturedEmail(file.name, "", "", gettext("(too large to show)"), "", "", "", "", "")
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    part = message.get_body(preferencelist=("plain", "html"))
    try:
        body = part.get_content() if part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or a broken encoding: show the bytes as text
        body = part.get_payload(decode=True).decode("utf-8", errors="replace")
    header = message.get("Date")
    date = getattr(header, "datetime", None) or str(header or "")  # as written when it does not parse
    return CapturedEmail(
        file=file.name,
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=date,
        list_unsubscribe=str(message.get("List-Unsubscribe", "")),
        list_unsubscribe_post=str(message.get("List-Unsubscribe-Post", "")),
        message_id=str(message.get("Message-ID", "")),
        body=body.strip(),
    )


def captured_emails(directory: Path, *, limit: int = SHOWN) -> tuple[list[CapturedEmail], int]:
    """The newest `limit` emails in `directory` (file names start with the time received), and how many there are."""
    if not directory.is_dir():
        return [], 0
    files = sorted((f for f in directory.glob("*.eml") if f.is_file()), key=lambda f: f.name, reverse=True)
    return [read_email(f) for f in files[:limit]], len(files)


def demo_mail_url() -> str:
    """The page's URL, or "" when DEMO_MAIL_DIR is not set (the changelist then shows no link)."""
    return reverse("admin:outreach_demo_mail") if mail_dir() else ""


def demo_mail_urls(model_admin) -> list:
    """For OutreachMessageAdmin.get_urls: the page sits under the messages, staff only."""

    def view(request):
        directory = mail_dir()
        if directory is None:
            raise Http404("DEMO_MAIL_DIR is not set: there is no demo mailbox")
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        emails, total = captured_emails(directory)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": gettext("Demo mailbox"),
            "subtitle": gettext("emails the demo SMTP server received"),
            "emails": emails,
            "total": total,
            "directory": directory,
            "opts": model_admin.model._meta,
        }
        return TemplateResponse(request, "admin/outreach/outreachmessage/demo_mail.html", context)

    return [path("demo-mail/", model_admin.admin_site.admin_view(view), name="outreach_demo_mail")]
