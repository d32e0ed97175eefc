"""The admin's language: the user's own choice (the header's language menu sets a cookie), else LANGUAGE_CODE.

Django's LocaleMiddleware would also follow the browser's Accept-Language, so an operator
whose browser happens to be English would never see the Russian the team works in,
whatever LANGUAGE_CODE says. Here the deployment's setting is the default and only an
explicit choice overrides it. The unsubscribe page recipients see is bilingual anyway.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


def request_language(request) -> str:
    """The cookie's language when it is one of LANGUAGES, else LANGUAGE_CODE."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen:
        try:
            return translation.get_supported_language_variant(chosen)
        except LookupError:
            pass  # a stale or forged cookie: the default
    return settings.LANGUAGE_CODE


class CookieLocaleMiddleware(LocaleMiddleware):
    """LocaleMiddleware without Accept-Language; responses still carry Content-Language."""

    def process_request(self, request):
        translation.activate(request_language(request))
        request.LANGUAGE_CODE = translation.get_language()
