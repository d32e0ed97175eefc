"""Tasks that handle secrets the careless ways real code might, for tests/leadops/test_logging.py.

Autodiscovered like any app's tasks, so a real worker runs them too.
"""

import logging
from urllib.parse import quote

from celery import shared_task
from django.conf import settings

from leadops.jobs import track_job

from .models import Credential

log = logging.getLogger(__name__)


class SmtpLoginRefused(Exception):
    pass


@shared_task
def handle_secrets_task(job_id: int, vk_credential_id: int, telegram_credential_id: int) -> None:
    """Loads a VK token and a Telethon string session from the database and the SMTP password from
    settings, logs them in every way it can, and fails with all three in the exception."""
    with track_job(job_id) as job:
        token = Credential.objects.get(pk=vk_credential_id).secret
        session = Credential.objects.get(pk=telegram_credential_id).secret
        password = settings.EMAIL_HOST_PASSWORD
        job.log("credentials loaded")

        log.info(f"calling VK with {token}")
        log.info("GET %s", f"{settings.VK_API_URL}users.get?access_token={token}&v=5.199")
        log.info("telegram session %s loaded (%d characters)", session, len(session))
        log.warning("reconnecting with %r", {"string_session": session, "proxy": None})
        log.info("resuming at %s", f"https://tg.example.test/connect?session={quote(session, safe='')}")
        log.info("smtp settings: %s", {"host": settings.EMAIL_HOST, "password": password})
        log.info("relay smtp://ops:%s@mail.example.test:587", password)
        try:
            raise SmtpLoginRefused(f"535 5.7.8 authentication failed for ops@example.test, password {password}")
        except SmtpLoginRefused:
            log.exception("delivery failed with token %s and session %s", token, session)
        raise SmtpLoginRefused(f"giving up on {token} / {session} / {password}")


@shared_task
def log_a_line_task(job_id: int, text: str) -> None:
    """No track_job: the Celery signal alone binds the job id (given positionally or by name)."""
    log.info("task line: %s", text)
