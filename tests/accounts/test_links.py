"""Target links as operators paste them."""

import pytest

from accounts.links import BadLink, TargetRef, parse_link


@pytest.mark.parametrize(
    "link",
    [
        "https://t.me/AutoBazar",
        "http://t.me/autobazar",
        "t.me/autobazar",
        "telegram.me/autobazar",
        "@autobazar",
        "autobazar",
        "https://t.me/autobazar/",
        "https://t.me/autobazar/123",
        "https://t.me/autobazar?start=x",
    ],
)
def test_public_links_normalise_to_a_lower_case_at_name(link):
    assert parse_link(link) == TargetRef(username="@autobazar")


@pytest.mark.parametrize(
    ("link", "invite"),
    [
        ("https://t.me/+AbCdEf123456_x", "AbCdEf123456_x"),
        ("t.me/+AbCdEf123456", "AbCdEf123456"),
        ("https://t.me/joinchat/AbCdEf123456", "AbCdEf123456"),
        ("telegram.me/joinchat/AbCd-Ef123456", "AbCd-Ef123456"),
    ],
)
def test_invite_links_stay_invites(link, invite):
    assert parse_link(link) == TargetRef(invite_hash=invite)


@pytest.mark.parametrize("link", ["", "x", "@abc", "https://example.com/autobazar", "@1abc", "t.me/+short"])
def test_anything_else_is_refused_with_the_link_named(link):
    with pytest.raises(BadLink, match="not a Telegram group link or username"):
        parse_link(link)
