"""`{% demo_mail_url as url %}`: the demo mailbox page's URL, "" outside the demo (no DEMO_MAIL_DIR)."""

from django import template

from outreach.admin_demo import demo_mail_url as _demo_mail_url

register = template.Library()


@register.simple_tag
def demo_mail_url() -> str:
    return _demo_mail_url()
