"""Password policy and hashing, API key format and digests."""

from __future__ import annotations

import hashlib

import pytest

from cadenza.auth.secrets import (
    digest,
    hash_password,
    new_api_key,
    validate_password,
    verify_nothing,
    verify_password,
    visible_prefix,
)
from cadenza.core.errors import ValidationFailed


@pytest.mark.parametrize("password", ["", "123456789", "x" * 201], ids=["empty", "nine", "201"])
def test_password_policy_refuses(password: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_password(password)
    assert caught.value.errors[0]["field"] == "password"


@pytest.mark.parametrize("password", ["1234567890", "x" * 200], ids=["ten", "200"])
def test_password_policy_accepts(password: str) -> None:
    assert validate_password(password) == password


def test_passwords_are_argon2_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert verify_password(stored, "correct horse battery") is True
    assert verify_password(stored, "wrong horse battery") is False
    assert verify_password("not-a-hash", "correct horse battery") is False
    assert verify_nothing("correct horse battery") is False


def test_api_key_format_prefix_and_digest() -> None:
    raw, prefix = new_api_key()
    assert raw.startswith(prefix + "_")
    assert prefix.startswith("cdz_") and len(prefix) == 12
    assert len(raw) > 50
    assert visible_prefix(raw) == prefix
    assert digest(raw) == hashlib.sha256(raw.encode()).hexdigest()
    assert new_api_key()[0] != raw
    assert visible_prefix("sk_live_nothing") is None
