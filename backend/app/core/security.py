"""Passwords, bearer tokens and API keys.

Passwords are hashed with Argon2id (argon2-cffi), off the event loop: a hash costs tens of
milliseconds of CPU and 64 MiB, so it runs in the bounded CPU thread pool (Argon2 releases the
GIL), never more at once than there are cores. Session tokens and API keys are random
256-bit secrets shown to their owner once; only their SHA-256 digest is stored, so a database
leak reveals no usable credential (a fast hash is enough for secrets this long).
"""

import base64
import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import get_settings
from app.core.offload import run_in_thread

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


def _hash(password: str) -> str:
    return password_hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await run_in_thread(_hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; False for a mismatch or an unreadable hash."""
    return await run_in_thread(_verify, password_hash, password)


_dummy_hash: str | None = None


async def dummy_password_hash() -> str:
    """A hash to verify against when the email is unknown, so that "no such user" costs as much
    time as "wrong password" and the two cannot be told apart by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def new_session_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_api_key() -> str:
    return API_KEY_MARKER + secrets.token_urlsafe(TOKEN_BYTES)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_MARKER)


def api_key_prefix(api_key: str) -> str:
    """The part of a key that is stored in clear and shown in listings to tell keys apart."""
    return api_key[:API_KEY_PREFIX_LENGTH]


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a token or key."""
    return hashlib.sha256(token.encode()).hexdigest()
