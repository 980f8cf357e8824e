"""Key material: format, checksum, entropy, Key ID, hashing and constant-time verification."""

import inspect
import math
import re
import secrets
import zlib
from unittest import mock

import passlib.utils.handlers
import pytest
from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import keygen
from keys.models import ApiKey
from keys.services import api_key_create
from projects.actors import Actor

FORMAT = re.compile(r"nbq_live_[A-Za-z0-9]{32}")


def test_format():
    for _ in range(200):
        key = keygen.generate_key()
        assert FORMAT.fullmatch(key), key
        assert len(key) == 41
        assert keygen.is_well_formed(key)


def test_random_part_carries_at_least_128_bits():
    assert keygen.RANDOM_LENGTH + keygen.CHECKSUM_LENGTH == 32
    assert len(keygen.ALPHABET) == len(set(keygen.ALPHABET)) == 62
    assert keygen.RANDOM_LENGTH * math.log2(len(keygen.ALPHABET)) >= 128


def test_random_part_comes_from_secrets_and_uses_the_whole_alphabet():
    with mock.patch.object(keygen.secrets, "choice", wraps=keygen.secrets.choice) as choice:
        keygen.generate_key()
    assert choice.call_count == keygen.RANDOM_LENGTH
    keys = {keygen.generate_key() for _ in range(2000)}
    assert len(keys) == 2000
    seen = set("".join(k[9 : 9 + keygen.RANDOM_LENGTH] for k in keys))
    assert seen == set(keygen.ALPHABET)


def test_checksum_is_crc32_of_the_random_part_in_base62():
    key = keygen.generate_key()
    body, check = key[9:35], key[35:]
    number = 0
    for ch in check:
        number = number * 62 + keygen.ALPHABET.index(ch)
    assert number == zlib.crc32(body.encode())


@pytest.mark.parametrize("seed", range(5))
def test_every_single_character_change_is_detected(seed):
    """Exhaustive over all 41 positions and every other character a key may hold there."""
    key = keygen.generate_key()
    assert keygen.is_well_formed(key)
    for position in range(len(key)):
        for replacement in keygen.ALPHABET + "_-.":
            if replacement == key[position]:
                continue
            mutated = key[:position] + replacement + key[position + 1 :]
            assert not keygen.is_well_formed(mutated), (position, replacement)


RANDOM_PARTS = st.text(alphabet=keygen.ALPHABET, min_size=keygen.RANDOM_LENGTH, max_size=keygen.RANDOM_LENGTH)


@settings(deadline=None)
@given(RANDOM_PARTS, st.data())
def test_single_character_change_detected_hypothesis(random_part, data):
    key = keygen.PREFIX + random_part + keygen.checksum(random_part)
    assert keygen.is_well_formed(key)
    position = data.draw(st.integers(min_value=len(keygen.PREFIX), max_value=len(key) - 1))
    replacement = data.draw(st.sampled_from(keygen.ALPHABET).filter(lambda c: c != key[position]))
    assert not keygen.is_well_formed(key[:position] + replacement + key[position + 1 :])


@settings(deadline=None)
@given(st.text(max_size=60))
def test_made_up_strings_are_rejected(candidate):
    assert not keygen.is_well_formed(candidate)


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "nbq_live_",
        "nbq_test_" + "a" * 32,
        "nbq_live_" + "a" * 31,
        "nbq_live_" + "a" * 33,
        "NBQ_LIVE_" + "a" * 32,
        " nbq_live_" + "a" * 32,
    ],
)
def test_malformed_keys_are_rejected(candidate):
    assert not keygen.is_well_formed(candidate)


def test_swapped_adjacent_characters_are_detected():
    key = keygen.generate_key()
    for i in range(9, 34):
        if key[i] != key[i + 1]:
            swapped = key[:i] + key[i + 1] + key[i] + key[i + 2 :]
            assert not keygen.is_well_formed(swapped)


def test_hash_is_not_the_plaintext_and_verifies():
    key = keygen.generate_key()
    stored = keygen.hash_key(key)
    assert key not in stored
    assert key[9:] not in stored
    assert stored == django_settings.API_KEY_CRYPT_CONTEXT.hash(key)
    assert django_settings.API_KEY_CRYPT_CONTEXT.identify(stored) == "hex_sha256"
    assert keygen.hash_key(key) == stored  # deterministic: found through a unique index
    assert keygen.verify_key(key, stored)
    assert not keygen.verify_key(keygen.generate_key(), stored)


def test_verify_compares_in_constant_time_through_passlib():
    key = keygen.generate_key()
    stored = keygen.hash_key(key)
    with mock.patch.object(passlib.utils.handlers, "consteq", wraps=passlib.utils.handlers.consteq) as consteq:
        assert keygen.verify_key(key, stored) is True
        assert keygen.verify_key(key[:-1] + ("A" if key[-1] != "A" else "B"), stored) is False
    assert consteq.call_count == 2


def test_is_well_formed_compares_checksum_in_constant_time():
    key = keygen.generate_key()
    with mock.patch.object(keygen.hmac, "compare_digest", wraps=keygen.hmac.compare_digest) as compare:
        assert keygen.is_well_formed(key)
    compare.assert_called_once_with(key[-keygen.CHECKSUM_LENGTH :], key[-keygen.CHECKSUM_LENGTH :])


def test_mask_shows_prefix_and_last_four():
    key = keygen.generate_key()
    assert keygen.mask(key[-4:]) == f"nbq_live_…{key[-4:]}"


def test_key_id_takes_no_input_and_is_random():
    assert inspect.signature(keygen.new_key_id).parameters == {}
    ids = {keygen.new_key_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"key_[a-z0-9]{16}", i) for i in ids)


@pytest.mark.django_db
def test_stored_key_has_hash_last4_and_unrelated_key_id(unlocked_project):
    actor = Actor(user=None, label="test")
    key, plaintext = api_key_create(project=unlocked_project, name="k", permissions=["read"], actor=actor)
    row = ApiKey.objects.values().get(pk=key.pk)
    assert plaintext not in str(row)
    assert row["key_hash"] == keygen.hash_key(plaintext)
    assert row["last4"] == plaintext[-4:]
    secret = plaintext[9:]
    key_id = row["key_id"][4:]
    # no 5-character piece of the Key ID appears in the secret or its hash (not derived from them)
    for i in range(len(key_id) - 4):
        assert key_id[i : i + 5] not in secret
        assert key_id[i : i + 5] not in row["key_hash"]
    assert ApiKey._meta.get_field("key_id").default is keygen.new_key_id


def base62(number: int, width: int) -> str:
    """The plain conversion, digit by digit: what `keygen.checksum` must write."""
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = keygen.ALPHABET[remainder] + digits
    return digits.rjust(width, keygen.ALPHABET[0])


@pytest.mark.parametrize("crc", [0, 1, 61, 62, 3843, 3844, 62**4 - 1, 62**4, 2**31, 2**32 - 1])
def test_the_checksum_table_writes_every_crc32_as_base62_does(crc, monkeypatch):
    """`checksum` writes the CRC32 with a table of base62 digit pairs: the same 6 digits as the
    plain base62 conversion, for the extremes and every carry between the pairs."""
    monkeypatch.setattr(keygen.zlib, "crc32", lambda data: crc)
    assert keygen.checksum("anything") == base62(crc, keygen.CHECKSUM_LENGTH)
    assert len(keygen.checksum("anything")) == keygen.CHECKSUM_LENGTH


def test_the_checksum_of_random_parts_is_their_crc32_in_base62():
    for _ in range(2000):
        part = "".join(secrets.choice(keygen.ALPHABET) for _ in range(keygen.RANDOM_LENGTH))
        assert keygen.checksum(part) == base62(zlib.crc32(part.encode()), keygen.CHECKSUM_LENGTH)
