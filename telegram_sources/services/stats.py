"""Offline-event statistics per user, recomputed set-based after an event export."""

from django.db.models import Count, DateTimeField, Exists, Max, OuterRef, Subquery
from django.db.models.functions import Cast, Coalesce

from ..models import Membership, TelegramGroup, TelegramUser


def recompute_offline_stats(*, group: TelegramGroup) -> int:
    """One UPDATE: `offline_cnt` and `last_offline_at` of everyone in `group`, from their event memberships.

    Users with no memberships keep what a legacy import gave them; they are not touched.
    """
    events = Membership.objects.filter(user=OuterRef("pk"), group__kind=TelegramGroup.Kind.EVENT)
    per_user = events.order_by().values("user")
    return TelegramUser.objects.filter(Exists(Membership.objects.filter(user=OuterRef("pk"), group=group))).update(
        offline_cnt=Coalesce(Subquery(per_user.annotate(n=Count("group", distinct=True)).values("n")), 0),
        # The event's date; for an event group without one, when we first saw them there.
        last_offline_at=Subquery(
            per_user.annotate(last=Max(Coalesce(Cast("group__event_date", DateTimeField()), "first_seen_at"))).values(
                "last"
            )
        ),
    )
