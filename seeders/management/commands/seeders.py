"""`manage.py seeders preview|approve|rollback|verify`: the playbook, safe by construction."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from seeders import services
from seeders.models import SeederBatch


class Command(BaseCommand):
    help = "Seeders: preview the next top-10, approve exactly those, roll a batch back, verify."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        preview = actions.add_parser("preview", help="the next top-10 candidates")
        preview.add_argument("--json", action="store_true")
        approve = actions.add_parser("approve", help="mark exactly these ids stale")
        approve.add_argument("--ids", required=True, help="comma-separated Telegram ids, as preview showed them")
        approve.add_argument("--user", default=None, help="the reviewer's username (for the audit log)")
        rollback = actions.add_parser("rollback", help="revoke a batch's stale marks")
        rollback.add_argument("batch_id", type=int)
        verify = actions.add_parser("verify", help="top not in the reference group, with stale yes/no")
        verify.add_argument("--top", type=int, default=30)
        verify.add_argument("--json", action="store_true")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_preview(self, json, **options):
        self._show(services.preview(), as_json=json)

    def do_verify(self, top, json, **options):
        self._show(services.verify(top), as_json=json)

    def do_approve(self, ids, user, **options):
        try:
            id_list = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError:
            raise CommandError("--ids takes comma-separated Telegram ids, e.g. --ids 123,456") from None
        reviewer = None
        if user:
            reviewer = get_user_model().objects.filter(username=user).first()
            if reviewer is None:
                raise CommandError(f"no user {user!r}")
        result = services.approve(ids=id_list, user=reviewer)
        if not result.ok:
            raise CommandError(f"nothing was marked: {result.reason}")
        self.stdout.write(f"batch {result.batch.pk}: {result.batch.reason}, {len(id_list)} users marked stale")

    def do_rollback(self, batch_id, **options):
        batch = SeederBatch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise CommandError(f"no seeder batch {batch_id}")
        self.stdout.write(services.rollback(batch=batch))

    def _show(self, rows, *, as_json):
        if as_json:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for rank, row in enumerate(rows, 1):
            name = " ".join(filter(None, [row["first_name"], row["last_name"]]))
            years = "–".join(r[:4] if r else "—" for r in (row["first_seen_at"], row["last_offline_at"]))
            stale = "yes" if row["stale"] else "no"
            handle = f"@{row['username']}" if row["username"] else "no username"
            self.stdout.write(f"{rank}) {handle} ({name}) - {row['offline_cnt']} events ({years}) [stale: {stale}]")
