"""Password hashing (argon2), API key and session token generation and digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cadenza.core.errors import ValidationFailed

_hasher = PasswordHasher()

API_KEY_PREFIX = "cdz"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

_dummy_hash: str | None = None


def validate_password(password: str) -> str:
    """The password policy: 10 to 200 characters. Returns the password unchanged."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            errors=[{"field": "password", "message": f"at least {MIN_PASSWORD_LENGTH} characters"}],
        )
    return password


def set_hashing_cost(*, time_cost: int, memory_cost: int, parallelism: int = 1) -> None:
    """Changes the argon2 cost of new hashes (existing hashes carry their own). Tests make it cheap."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> bool:
    """As slow as `verify_password` and always False: a failed sign-in takes as long for an unknown email."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)
    return False


def digest(token: str) -> str:
    """API keys and session tokens are 256-bit random: a fast SHA-256 digest is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """Returns (full key, visible prefix). The key is `cdz_<prefix>_<secret>`."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}_{prefix}_{secret}", f"{API_KEY_PREFIX}_{prefix}"


def visible_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    return f"{parts[0]}_{parts[1]}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
