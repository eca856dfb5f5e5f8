"""Passwords, bearer tokens and API keys.

Passwords are hashed with Argon2id (argon2-cffi). Session tokens and API keys are random
256-bit secrets shown to their owner once; only their SHA-256 digest is stored, so a database
leak reveals no usable credential (a fast hash is enough for secrets this long).
"""

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import get_settings

TOKEN_BYTES = 32  # 256 bits
API_KEY_MARKER = "ytk_"
API_KEY_PREFIX_LENGTH = len(API_KEY_MARKER) + 8


@lru_cache
def password_hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
    )


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; False for a mismatch or an unreadable hash."""
    try:
        return password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache
def dummy_password_hash() -> str:
    # Verified against when the email is unknown, so that "no such user" costs as much time as
    # "wrong password" and the two cannot be told apart by timing.
    return hash_password(secrets.token_urlsafe(16))


def new_session_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_api_key() -> str:
    return API_KEY_MARKER + secrets.token_urlsafe(TOKEN_BYTES)


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_MARKER)


def api_key_prefix(api_key: str) -> str:
    """The part of a key that is stored in clear and shown in listings to tell keys apart."""
    return api_key[:API_KEY_PREFIX_LENGTH]


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a token or key."""
    return hashlib.sha256(token.encode()).hexdigest()
