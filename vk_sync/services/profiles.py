"""Profile refresh: `users.get` for 1,000 ids per call, 25 calls per `execute`.

Works for any VK users (subscribers, authors, people who liked a post). Chunks go
over the token pool with fallback and a slow retry; ids that still failed are
reported on the JobRun, never dropped silently.
"""

import json
from datetime import UTC, datetime

from django.utils import timezone

from leadops.jobs import JobReporter, track_job

from ..client import TokenHandle, VkClient
from ..models import VkCommunity, VkUser
from .chunks import Chunk, run_chunks
from .gender import FIELDS as GENDER_FIELDS
from .gender import refresh_genders, set_gender
from .lastsync import record_sync

IDS_PER_CALL = 1000
CALLS_PER_EXECUTE = 10  # 10 x 1,000 full profiles stay under VK's 5 MB answer; 25 x 1,000 do not
FIELDS = "sex,bdate,city,country,photo_100,domain,has_mobile,last_seen"
UPDATED = [
    "first_name",
    "last_name",
    "sex",
    "bdate",
    "city",
    "country",
    "photo",
    "domain",
    "has_mobile",
    "is_closed",
    "can_access_closed",
    "deactivated",
    "last_seen",
    "platform",
    "details_refreshed_at",
    *GENDER_FIELDS,
]

USERS_CODE = """var batches = %(batches)s;
var out = [];
var i = 0;
while (i < batches.length) {
  var r = API.users.get({"user_ids": batches[i], "fields": "%(fields)s"});
  out.push(r);
  i = i + 1;
}
return out;"""


def _user(data: dict, now: datetime) -> VkUser:
    last_seen = data.get("last_seen") or {}
    user = VkUser(
        id=data["id"],
        first_name=data.get("first_name", "")[:255],
        last_name=data.get("last_name", "")[:255],
        sex=data.get("sex"),
        bdate=data.get("bdate", "")[:16],
        city=(data.get("city") or {}).get("title", "")[:128],
        country=(data.get("country") or {}).get("title", "")[:128],
        photo=data.get("photo_100", "")[:500],
        domain=data.get("domain", "")[:128],
        has_mobile=bool(data["has_mobile"]) if "has_mobile" in data else None,
        is_closed=data.get("is_closed"),
        can_access_closed=data.get("can_access_closed"),
        deactivated=data.get("deactivated", "")[:32],
        last_seen=datetime.fromtimestamp(last_seen["time"], UTC) if last_seen.get("time") else None,
        platform=last_seen.get("platform"),
        details_refreshed_at=now,
    )
    return set_gender(user)  # from the names and sex just fetched, so it is never stale


def refresh_profiles(*, user_ids: list[int], client: VkClient, job: JobReporter | None = None) -> dict:
    ids = sorted(set(user_ids))
    batches = [",".join(map(str, ids[i : i + IDS_PER_CALL])) for i in range(0, len(ids), IDS_PER_CALL)]
    chunks = [Chunk(tuple(batches[i : i + CALLS_PER_EXECUTE])) for i in range(0, len(batches), CALLS_PER_EXECUTE)]
    if job:
        job.set_total(len(ids))
    missing: list[str] = []

    def fetch(client: VkClient, token: TokenHandle, chunk: Chunk):
        code = USERS_CODE % {"batches": json.dumps(list(chunk.key)), "fields": FIELDS}
        response, _errors = client.execute(code, token=token)
        return response

    def done(chunk: Chunk, answers):
        now = timezone.now()
        users = [_user(data, now) for answer in answers or [] if answer for data in answer]
        for batch, answer in zip(chunk.key, answers or [], strict=False):
            if answer is False:  # that call failed inside the execute: retried below
                missing.append(batch)
        VkUser.objects.bulk_create(
            users, update_conflicts=True, unique_fields=["id"], update_fields=UPDATED, batch_size=2000
        )
        if job:
            job.advance(len(users))

    run = run_chunks(client, chunks, fetch, on_done=done)
    failed_batches = [b for chunk, _ in run.failed for b in chunk.key]
    if missing:  # single calls that failed inside an execute: once more, one per request
        retry = [Chunk((batch,)) for batch in missing]
        missing.clear()
        again = run_chunks(client, retry, fetch, on_done=done)
        failed_batches += [b for chunk, _ in again.failed for b in chunk.key] + missing
        run.requests += again.requests
    failed_ids = sum(len(b.split(",")) for b in failed_batches)
    counts = {"requested": len(ids), "failed": failed_ids, "requests": run.requests}
    if job:
        job.job.counters.update(counts)
        if failed_ids:
            job.log(f"{failed_ids} profiles could not be fetched with any token; run the refresh again")
    return counts


def refresh_subscriber_details(*, community_id: int, job_id: int, client: VkClient | None = None) -> dict:
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db()
    with track_job(job_id) as job:
        ids = list(community.subscriptions.filter(is_member=True).values_list("user_id", flat=True))
        job.log(f"{community}: refreshing {len(ids)} profiles")
        counts = refresh_profiles(user_ids=ids, client=client, job=job)
        # Profiles fetched have their gender; members whose profile failed, and rows other
        # syncs wrote without one, get the estimate from what is on file.
        estimated = refresh_genders()
        if estimated:
            job.log(f"gender estimated from the stored names of {estimated} users")
        record_sync(community.pk, "subscriber-details", "ok" if not counts["failed"] else "partial", counts)
        return counts
