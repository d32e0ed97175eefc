"""What VK answered, as exceptions a sync can act on (see vk_sync.client for which code is which)."""

from datetime import datetime


class VkApiError(Exception):
    """VK answered {"error": ...}. str() names the code, method and VK's message, never a token."""

    def __init__(
        self,
        code: int,
        message: str,
        method: str,
        *,
        until: datetime | None = None,
        captcha_sid: str | None = None,
        captcha_img: str | None = None,
    ):
        self.code = code
        self.message = message
        self.method = method
        self.until = until  # TokenSetAside: when the token may be used again (aware, UTC)
        self.captcha_sid = captcha_sid
        self.captcha_img = captcha_img
        super().__init__(f"VK error {code} in {method}: {message}")


class TooManyRequests(VkApiError):
    """Error 6, still there after the client's own retries on the same token."""


class TokenSetAside(VkApiError):
    """Errors 9, 29, 14 (or a block by another worker): the token rests until `until`."""


class TokenInvalid(VkApiError):
    """Error 5: the token is revoked or expired; it is marked invalid in the database."""


class ResponseTooBig(VkApiError):
    """Error 13 "Response size is too big" / "Too many API calls": ask for less per execute."""


class PermanentVkError(VkApiError):
    """Any other VK error: the same request will fail the same way."""


class WrongTokenKind(PermanentVkError):
    """Errors 27 / 28: the method does not take this kind of token; another kind may do."""


class CommunityNotFound(PermanentVkError):
    """resolve_community: VK knows no such community."""


class NoUsableToken(Exception):
    """Every token is invalid or set aside."""


class ListIncomplete(Exception):
    """A list sync stopped short (fetched too little, or some chunks failed on every token).

    What is safe to keep was kept; the message says what happened and the next run picks up.
    """
