"""The Seeders pages: review the next top-10, approve exactly those (with a confirmation step),
verify, roll back. Mixed into the SeederBatch admin, which supplies permissions and templates."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext

from leadops.admin import progress_bar
from leadops.models import JobRun
from telegram_sources.gateway import NotFound
from telegram_sources.services.starters import REFRESH_REFERENCE_KIND, start_reference_refresh

from . import selectors, services
from .models import SeederBatch
from .rows import seeder_row

VERIFY_TOP = 30
VERIFY_TOP_MAX = 500
CSV_COLUMNS = [
    "batch_id",
    "telegram_id",
    "username",
    "first_name",
    "last_name",
    "offline_cnt",
    "last_offline_at",
    "set_at",
    "until",
    "revoked_at",
]


# --- what the pages show ------------------------------------------------------------------------


def display_row(rank: int, row: dict) -> dict:
    """A `seeder_row` as the playbook lists it: rank, @username, name, events, years first seen–last offline."""
    name = " ".join(filter(None, [row["first_name"], row["last_name"]]))
    years = "–".join(value[:4] if value else "—" for value in (row["first_seen_at"], row["last_offline_at"]))
    handle = f"@{row['username']}" if row["username"] else ""
    return {**row, "rank": rank, "handle": handle, "name": name, "years": years}


def reference_status(*, now=None) -> dict:
    """The reference snapshot's age, and what is wrong with it if approving would be refused."""
    now = now or timezone.now()
    limit = settings.REFERENCE_MAX_AGE_HOURS
    status = {"group": settings.REFERENCE_GROUP, "limit_hours": limit, "age": None, "snapshot_at": None}
    try:
        age = selectors.reference_age(now=now)
    except NotFound as exc:  # REFERENCE_GROUP is neither an id nor a username
        return {
            **status,
            "fresh": False,
            "problem": gettext("REFERENCE_GROUP is not usable: %(error)s") % {"error": exc},
        }
    fresh = age is not None and age <= timedelta(hours=limit)
    problem = ""
    if not settings.REFERENCE_GROUP:
        problem = gettext("REFERENCE_GROUP is not set: approving needs a fresh snapshot of the reference group.")
    elif age is None:
        problem = gettext("The reference group has never been exported: refresh it before approving.")
    elif not fresh:
        problem = gettext(
            "The reference snapshot is %(age)s h old (limit %(limit)s h): refresh it before approving."
        ) % {"age": f"{age.total_seconds() / 3600:.0f}", "limit": limit}
    snapshot_at = now - age if age is not None else None
    return {**status, "age": age, "snapshot_at": snapshot_at, "fresh": fresh, "problem": problem}


def csv_safe(value) -> str:
    """Names come from Telegram: never let one start a spreadsheet formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def short_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def iso(value) -> str:
    return value.isoformat() if value else ""


def complete_row(row: dict) -> dict:
    """Rows saved by older code (or a legacy import) may lack fields."""
    keys = ("telegram_id", "username", "first_name", "last_name", "offline_cnt", "first_seen_at", "last_offline_at")
    return {key: row.get(key) for key in keys} | row


class SeederReviewViews:
    """The Seeders pages on the batch admin: review the top-10, approve (with a confirmation), verify, roll back."""

    def get_urls(self):
        def view(func):
            return self.admin_site.admin_view(func)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [  # before the model's own URLs: "<path:object_id>/" would take "review/"
            path("review/", view(self.review_view), name=f"{name}_review"),
            path("review/approve/", view(self.approve_view), name=f"{name}_approve"),
            path("review/refresh-reference/", view(self.refresh_reference_view), name=f"{name}_refresh_reference"),
            path("verify/", view(self.verify_view), name=f"{name}_verify"),
            path("<int:object_id>/rollback/", view(self.rollback_view), name=f"{name}_rollback"),
            *super().get_urls(),
        ]

    def _render(self, request, template, title, **context):
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,
            "batch_size": settings.SEEDERS_BATCH_SIZE,
            **context,
        }
        return TemplateResponse(request, f"admin/seeders/seederbatch/{template}", context)

    def review_view(self, request):
        self._require_view(request)
        n = settings.SEEDERS_BATCH_SIZE
        rows = [display_row(rank, row) for rank, row in enumerate(services.preview(n), 1)]
        reference = reference_status()
        job = JobRun.objects.filter(kind=REFRESH_REFERENCE_KIND).select_related("triggered_by").first()
        return self._render(
            request,
            "review.html",
            gettext("Seeders: review the next top-%(n)s") % {"n": n},
            rows=rows,
            reference=reference,
            refresh_job=job,
            refresh_bar=progress_bar(job) if job else "",
            can_approve=self.has_approve_permission(request),
            approvable=len(rows) == n and reference["fresh"],
        )

    def refresh_reference_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_approve(request)
        review = reverse("admin:seeders_seederbatch_review")
        try:
            job = start_reference_refresh(user=request.user)
        except (ImproperlyConfigured, NotFound) as exc:
            self.message_user(
                request, gettext("Cannot refresh the reference group: %(error)s") % {"error": exc}, messages.ERROR
            )
            return HttpResponseRedirect(review)
        job_url = reverse("admin:leadops_jobrun_change", args=[job.pk])
        self.message_user(
            request,
            format_html(
                gettext('Started <a href="{}">#{} {}</a>: its progress is shown below.'), job_url, job.pk, job.kind
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(review)

    def approve_view(self, request):
        """POST the ids shown: a confirmation page; POST them again with post=yes: approve exactly those."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_approve(request)
        review = reverse("admin:seeders_seederbatch_review")
        try:
            ids = [int(value) for value in request.POST.getlist("ids")]
        except ValueError:
            ids = []
        if not ids:
            self.message_user(request, gettext("Nothing was approved: no Telegram ids were submitted."), messages.ERROR)
            return HttpResponseRedirect(review)

        if request.POST.get("post") == "yes":
            result = services.approve(ids=ids, user=request.user)
            if not result.ok:
                self.message_user(
                    request, gettext("Nothing was approved: %(reason)s.") % {"reason": result.reason}, messages.ERROR
                )
                return HttpResponseRedirect(review)
            batch = result.batch
            self.message_user(
                request,
                format_html(
                    gettext(
                        'Approved <a href="{}">batch #{}</a>: {} users marked stale for {} days. '
                        "They are highlighted below."
                    ),
                    reverse("admin:seeders_seederbatch_change", args=[batch.pk]),
                    batch.pk,
                    len(ids),
                    settings.SEEDERS_STALE_DAYS,
                ),
                messages.SUCCESS,
            )
            verify = reverse("admin:seeders_seederbatch_verify") + "?" + urlencode({"batch": batch.pk})
            return HttpResponseRedirect(verify)

        # The confirmation step writes nothing; a list that is no longer the top-N is sent back at once
        # (approve would refuse it anyway, inside its transaction).
        preview = services.preview()
        if sorted(ids) != sorted(row["telegram_id"] for row in preview):
            self.message_user(
                request,
                gettext(
                    "Nothing was approved: the submitted ids are not the current top-%(n)s (the list changed since "
                    "it was shown, or the form was altered). Review the list below and approve what it shows."
                )
                % {"n": settings.SEEDERS_BATCH_SIZE},
                messages.ERROR,
            )
            return HttpResponseRedirect(review)
        return self._render(
            request,
            "approve_confirmation.html",
            gettext("Are you sure?"),
            rows=[display_row(rank, row) for rank, row in enumerate(preview, 1)],
            reference=reference_status(),
            stale_days=settings.SEEDERS_STALE_DAYS,
        )

    def verify_view(self, request):
        self._require_view(request)
        batch = None
        if (batch_id := request.GET.get("batch", "")).isdigit():
            batch = SeederBatch.objects.filter(pk=int(batch_id)).first()
        try:
            top = max(1, min(VERIFY_TOP_MAX, int(request.GET.get("top", VERIFY_TOP))))
        except ValueError:
            top = VERIFY_TOP
        now = timezone.now()
        rows = []
        for rank, user in enumerate(selectors.verify_rows(top, at=now), 1):
            row = display_row(rank, seeder_row(user, at=now))
            row.update(
                set_at=user.stale_set_at,
                until=user.stale_until,
                batch_id=user.stale_batch_id,
                in_batch=batch is not None and user.stale_batch_id == batch.pk,
            )
            rows.append(row)
        return self._render(
            request,
            "verify.html",
            gettext("Seeders: verify the top-%(n)s not in the reference group") % {"n": top},
            rows=rows,
            top=top,
            batch=batch,
            stale_count=sum(row["stale"] for row in rows),
            batch_count=sum(row["in_batch"] for row in rows),
            can_roll_back=self.has_approve_permission(request),
        )

    def rollback_view(self, request, object_id):
        """One batch's "Roll back" button: a confirmation page, then `services.rollback`."""
        self._require_approve(request)
        batch = get_object_or_404(SeederBatch, pk=object_id)
        if request.method == "POST" and request.POST.get("post") == "yes":
            self.message_user(request, services.rollback(batch=batch, user=request.user), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:seeders_seederbatch_change", args=[batch.pk]))
        return self._rollback_confirmation(request, [batch], action=None)

    def _rollback_confirmation(self, request, batches, *, action):
        for batch in batches:  # a handful of batches: two counts each is fine
            batch.marks_total = batch.marks.count()
            batch.unrevoked = batch.marks.filter(revoked_at__isnull=True).count()
        return self._render(
            request,
            "rollback_confirmation.html",
            gettext("Are you sure?"),
            batches=batches,
            action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )
