"""The gender estimate of Telegram users (leadops.gender), stored on TelegramUser.

`gender` = "" means "not computed yet": new users start there and the export writer
puts a user back there when their first name, last name or username changes.
refresh_genders fills those in; an export calls it when it finishes, and a beat
entry catches the rest (an export that stopped on a FloodWait, an import).
"""

from leadops.gender import estimate_gender
from leadops.gender_refresh import refresh_pending

from ..models import TelegramUser

INPUTS = ("first_name", "last_name", "username")


def estimate(*, first_name: str, last_name: str, username: str) -> tuple[str, list[str]]:
    result = estimate_gender(first_name=first_name, last_name=last_name, username=username)
    return result.gender, list(result.rationale)


def refresh_genders(*, batch_size: int = 5000) -> int:
    """Estimate every Telegram user whose gender is not computed yet; return how many were stored."""
    return refresh_pending(model=TelegramUser, inputs=INPUTS, estimate=estimate, batch_size=batch_size)
