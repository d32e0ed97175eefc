"""The unsubscribe page behind the link in every outreach email.

GET only shows a confirmation form: mail scanners and link previews fetch links, and
must not unsubscribe anybody. POST records the opt-out; it is what the form sends and
what mail clients send for one-click unsubscribe (RFC 8058: `List-Unsubscribe=One-Click`,
with no cookie and no CSRF token), so the view is CSRF-exempt: the signed token is
the protection, and the worst a forged POST can do is unsubscribe the token's address.
"""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .optouts import record_opt_out
from .unsubscribe import BadToken, read_token


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    try:
        wanted = read_token(token)
    except BadToken:
        response = render(request, "outreach/unsubscribe.html", {"state": "invalid"}, status=400)
    else:
        state = "confirm"
        if request.method == "POST":
            reason = f"unsubscribe link of message {wanted.message_id}" if wanted.message_id else "unsubscribe link"
            record_opt_out(email=wanted.email, reason=reason, source="unsubscribe")
            state = "done"
        response = render(request, "outreach/unsubscribe.html", {"state": state, "email": wanted.email})
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    response["X-Robots-Tag"] = "noindex"
    return response
