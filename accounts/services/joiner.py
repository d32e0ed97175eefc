"""The Smart Joiner: join a niche's new target groups, a few per run, without burning accounts.

Per target: lease the least recently used usable account, join (invite links are
checked, then imported; public groups joined), check the account can post, and
record the outcome. FloodWait up to TELEGRAM_FLOOD_WAIT_MAX is waited out and the
group skipped (it stays new); a longer one puts the account in cooldown until it
is over, and the next group tries another account. A joined group is bound to its
account for good. Pauses between groups protect the accounts; they go through an
injectable `sleep` so tests assert them instead of sleeping.
"""

import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from leadops.jobs import JobReporter, track_job
from telegram_sources.gateway import (
    AccessDenied,
    FloodWait,
    InviteExpired,
    NotFound,
    PermanentError,
    SessionRevoked,
    get_gateway,
)

from ..models import JoinTarget, TelegramAccount
from . import pool

log = logging.getLogger(__name__)


def pause_range(setting: str) -> tuple[float, float]:
    low, _, high = setting.partition("-")
    return float(low), float(high or low)


@dataclass
class BatchResult:
    joined: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # FloodWait: still new
    pauses: list[float] = field(default_factory=list)
    stopped: str = ""  # why the batch ended early, if it did

    def summary(self) -> str:
        text = f"{len(self.joined)} joined, {len(self.errors)} errors, {len(self.skipped)} skipped"
        return f"{text}; stopped: {self.stopped}" if self.stopped else text


class SmartJoiner:
    def __init__(self, *, sleep=time.sleep, rng: random.Random | None = None, job: JobReporter | None = None):
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.job = job
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run_batch(self, niche: str, batch_size: int = 5, target_ids: set[int] | None = None) -> BatchResult:
        """Up to `batch_size` new targets of `niche` (only those in `target_ids`, when given)."""
        result = BatchResult()
        excluded: set[int] = set()  # accounts in cooldown or banned during this batch
        seen: set[int] = set()  # targets this batch already tried
        self._log(f"batch: niche {niche!r}, up to {batch_size} groups")
        if self.job:
            self.job.set_total(batch_size)
        while len(seen) < batch_size:
            target = pool.claim_target(niche=niche, owner=self.owner, now=timezone.now(), skip=seen, only=target_ids)
            if target is None:
                self._log("no more new targets in this niche")
                break
            seen.add(target.pk)
            account = pool.lease_account(owner=self.owner, now=timezone.now(), exclude=excluded)
            if account is None:
                pool.release_target(target, owner=self.owner)
                result.stopped = "no usable account (all cooling down, disabled, banned, busy or at their limits)"
                self._log(result.stopped)
                break
            try:
                pause = self._join(target, account, result, excluded)
            finally:
                pool.release_account(account, owner=self.owner)
                pool.release_target(target, owner=self.owner)
            if self.job:
                self.job.advance()
            if pause and len(seen) < batch_size:
                result.pauses.append(pause)
                self.sleep(pause)
        self._log(result.summary())
        return result

    def _join(self, target: JoinTarget, account: TelegramAccount, result: BatchResult, excluded: set[int]) -> float:
        """One attempt; returns the pause to take before the next group."""
        self._log(f"{target}: using account {account}")
        JoinTarget.objects.filter(pk=target.pk).update(attempts=F("attempts") + 1)
        gateway = get_gateway(account.session_name)
        try:
            joined = gateway.join(username=target.username or None, invite_hash=target.invite_hash or None)
            can_post = gateway.can_post(joined.group_id)
        except FloodWait as exc:
            return self._flood_wait(target, account, exc, result, excluded)
        except SessionRevoked as exc:
            self._account_done(account, TelegramAccount.Status.BANNED, str(exc), excluded)
            result.skipped.append(str(target))
            return 0
        except (NotFound, InviteExpired, AccessDenied, PermanentError) as exc:
            self._failed(target, account, str(exc))
            result.errors.append(f"{target}: {exc}")
            return settings.JOINER_PAUSE_ERROR
        finally:
            gateway.close()
        self._joined(target, account, joined, can_post)
        result.joined.append(str(target))
        return self.rng.uniform(*pause_range(settings.JOINER_PAUSE_SUCCESS))

    def _joined(self, target, account, joined, can_post) -> None:
        now = timezone.now()
        with transaction.atomic():
            JoinTarget.objects.filter(pk=target.pk).update(
                status=JoinTarget.Status.JOINED,
                assigned_account=account,  # bound for good: a joined target is never claimed again
                joined_at=now,
                warmup_ends_at=now + timedelta(hours=settings.JOINER_WARMUP_HOURS),
                telegram_id=joined.group_id,
                title=joined.title,
                can_post=can_post,
                error_message="",
            )
            TelegramAccount.objects.filter(pk=account.pk).update(
                channels_joined_count=F("channels_joined_count") + (0 if joined.already_member else 1),
                last_action_at=now,
                last_error="",
            )
        note = " (already a member)" if joined.already_member else ""
        post = "" if can_post else "; it cannot post there"
        self._log(f"{target}: joined with {account}{note}{post}; warm-up {settings.JOINER_WARMUP_HOURS} h")

    def _failed(self, target, account, message: str) -> None:
        now = timezone.now()
        with transaction.atomic():
            JoinTarget.objects.filter(pk=target.pk).update(status=JoinTarget.Status.ERROR, error_message=message)
            TelegramAccount.objects.filter(pk=account.pk).update(last_action_at=now)
        self._log(f"{target}: error: {message}")

    def _flood_wait(self, target, account, exc: FloodWait, result: BatchResult, excluded: set[int]) -> float:
        until = timezone.now() + timedelta(seconds=exc.seconds)
        result.skipped.append(str(target))
        if exc.seconds <= settings.TELEGRAM_FLOOD_WAIT_MAX:
            TelegramAccount.objects.filter(pk=account.pk).update(
                status=TelegramAccount.Status.FLOOD_WAIT,
                next_allowed_action_time=until,
                last_action_at=timezone.now(),
                last_error=f"FloodWait {exc.seconds} s",
            )
            self._log(f"{target}: FloodWait {exc.seconds} s on {account}: waiting it out, the group stays new")
            return exc.seconds
        self._account_done(account, TelegramAccount.Status.COOLDOWN, f"FloodWait {exc.seconds} s", excluded, until)
        return 0

    def _account_done(self, account, status, message, excluded: set[int], until=None) -> None:
        TelegramAccount.objects.filter(pk=account.pk).update(
            status=status, next_allowed_action_time=until, last_action_at=timezone.now(), last_error=message
        )
        excluded.add(account.pk)
        back = f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""
        self._log(f"account {account}: {status}{back} ({message}); the next group tries another account")

    def _log(self, message: str) -> None:
        log.info("joiner: %s", message)
        if self.job:
            self.job.log(message)


def run_join_batch(
    *, niche: str, batch_size: int, job_id: int, target_ids: list[int] | None = None, sleep=time.sleep
) -> BatchResult:
    """The joiner as a job: its log and counters on the JobRun."""
    only = set(target_ids) if target_ids is not None else None
    with track_job(job_id) as job:
        result = SmartJoiner(sleep=sleep, job=job).run_batch(niche, batch_size, target_ids=only)
        job.job.counters.update(joined=len(result.joined), errors=len(result.errors), skipped=len(result.skipped))
        job.flush()
        if result.stopped and not (result.joined or result.errors or result.skipped):
            raise NoUsableAccount(result.stopped)
        return result


class NoUsableAccount(Exception):
    """The batch could not start: no account may act now."""
