"""The self-check job: proves that a worker can reach the database, the
limiter and the encryption keys, and shows a JobRun's life from queued to done."""

from django.db import connection

from . import ratelimit
from .fields import decrypt, encrypt
from .jobs import track_job
from .models import JobRun


def run(*, job_id: int) -> None:
    checks = [
        ("database", _check_database),
        ("limiter", _check_limiter),
        ("encryption", _check_encryption),
    ]
    with track_job(job_id) as job:
        job.set_total(len(checks))
        for name, check in checks:
            job.log(f"{name}: {check()}")
            job.count("checks_passed")
            job.advance()


def _check_database() -> str:
    return f"{connection.vendor}, {JobRun.objects.count()} job runs recorded"


def _check_limiter() -> str:
    waited = ratelimit.acquire("selfcheck", rate=100, burst=100, timeout=5)
    return f"{ratelimit.backend_name()} token bucket answered (waited {waited:.2f} s)"


def _check_encryption() -> str:
    if decrypt(encrypt("selfcheck")) != "selfcheck":
        raise RuntimeError("encryption round trip returned something else")
    return "round trip with the current key works"
