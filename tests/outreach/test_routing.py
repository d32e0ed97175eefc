"""route_for_email over the MX port's fake: Russian-hosted mail -> "ru", the rest -> "other"."""

import pytest

from outreach.mx import FakeMxResolver, MxLookupFailed, get_mx_resolver, reset_mx_resolver
from outreach.routing import RouteUnavailable, route_for_email


@pytest.fixture
def resolver(settings) -> FakeMxResolver:
    settings.OUTREACH_MX_RESOLVER = "outreach.mx.FakeMxResolver"
    reset_mx_resolver()
    yield get_mx_resolver()
    reset_mx_resolver()


def test_a_russian_hosted_domain_gets_the_ru_route(resolver):
    resolver.set("route-ru-1.test", ["mx.yandex.net"])
    assert route_for_email("Sales@Route-RU-1.test") == "ru"


def test_any_other_domain_gets_the_other_route(resolver):
    resolver.set("route-other-1.test", ["mx1.mailhost.test"])
    assert route_for_email("sales@route-other-1.test") == "other"


def test_a_domain_without_mail_hosts_is_not_called_russian(resolver):
    resolver.set("route-none-1.test", [])
    assert route_for_email("sales@route-none-1.test") == "other"


def test_a_lookup_that_failed_for_now_is_not_guessed(resolver):
    resolver.set("route-flaky-1.test", MxLookupFailed("timeout"))
    with pytest.raises(RouteUnavailable):
        route_for_email("sales@route-flaky-1.test")
