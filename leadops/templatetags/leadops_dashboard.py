"""`{% dashboard_cards %}`: the admin index's cards for the user looking (leadops.dashboard)."""

from django import template

from leadops.dashboard import dashboard_cards as build_cards

register = template.Library()


@register.inclusion_tag("admin/leadops/dashboard/cards.html", takes_context=True)
def dashboard_cards(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"cards": []}
    return {"cards": build_cards(user=user)}
