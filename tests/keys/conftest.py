import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # These tests are about projects and keys, not passwords: a fast hasher keeps users cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
