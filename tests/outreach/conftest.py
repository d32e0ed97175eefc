"""Fixtures every outreach test gets."""

import pytest

from outreach import iam


@pytest.fixture(autouse=True)
def fresh_iam_cache():
    """IAM tokens are cached per process: one test's token (or its expiry) must not reach the next."""
    iam.reset_cache()
    yield
    iam.reset_cache()
