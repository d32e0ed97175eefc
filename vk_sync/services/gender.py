"""The gender of VK users: VK's own `sex` when the profile has it, else leadops.gender's estimate.

Profile writes (profiles.refresh_profiles, the mailing's full profiles) set it with the row,
from the data they write. Rows written without the profile's sex (new members, authors,
people who liked a post, deactivated profiles in the mailing) keep or get `gender` = "",
"not computed yet", and refresh_genders fills those in from what is on file.
"""

from leadops.gender import FEMALE, MALE, estimate_gender
from leadops.gender_refresh import refresh_pending

from ..models import VkUser

VK_SEX = {1: FEMALE, 2: MALE}  # VK: 1 female, 2 male, 0 or missing: not said
INPUTS = ("first_name", "last_name", "domain", "sex")
FIELDS = ["gender", "gender_rationale"]  # for bulk_create(update_fields=...)


def vk_gender(*, first_name: str, last_name: str, domain: str, sex: int | None) -> tuple[str, list[str]]:
    if sex in VK_SEX:
        return VK_SEX[sex], ["vk sex"]
    result = estimate_gender(first_name=first_name, last_name=last_name, username=domain)
    return result.gender, list(result.rationale)


def set_gender(user: VkUser) -> VkUser:
    """Fill in `user`'s gender from its own fields (before it is saved)."""
    user.gender, user.gender_rationale = vk_gender(
        first_name=user.first_name, last_name=user.last_name, domain=user.domain, sex=user.sex
    )
    return user


def refresh_genders(*, batch_size: int = 5000) -> int:
    """Compute the gender of every VK user that has none yet; return how many were stored."""
    return refresh_pending(model=VkUser, inputs=INPUTS, estimate=vk_gender, batch_size=batch_size)
