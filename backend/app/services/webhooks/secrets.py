"""Webhook signing secrets at rest.

A delivery is signed with its endpoint's secret, so the server must hold the secret itself, not
a hash of it. It is stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under a key kept
out of the database, so a stolen dump or backup does not let anyone forge deliveries.

WEBHOOK_SECRET_KEYS lists the keys: the first encrypts, every one decrypts (MultiFernet). To
rotate: put a new key first, run `python -m app.cli encrypt-webhook-secrets`, which encrypts
every stored secret with it, then drop the old key. Without keys (a development machine under
`make run`), a key is made once in WEBHOOK_SECRET_KEY_FILE (backend/.data/webhook-secret.key,
beside the embedded database's data, readable by its owner only), so no secret is ever written
in clear. Secrets written in clear before encryption (`whsec_…`) are still read as they are,
until the command encrypts them.
"""

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.core.config import Settings
from app.db.repositories import StoredSecrets, WebhookEndpointRepository
from app.db.session import UnitOfWork

logger = logging.getLogger(__name__)

# How every secret starts (Standard Webhooks); a Fernet token never does.
CLEAR_PREFIX = "whsec_"
KEY_HINT = (
    "32 random bytes in URL-safe base64; `python -m app.cli new-webhook-secret-key` makes one"
)


class SecretKeysError(ValueError):
    """A configured key is not a Fernet key; the message says which, never its value."""


class SecretUnreadableError(Exception):
    """No key decrypts a stored secret: the key it was encrypted with was dropped too soon."""


def fernet_for(key: bytes, name: str) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:  # the error says nothing of the value; ours neither
        raise SecretKeysError(f"{name} is not a Fernet key ({KEY_HINT})") from None


class WebhookSecrets:
    """Encrypts secrets with the first key; decrypts with any. Each call takes microseconds:
    fine on the event loop."""

    def __init__(self, keys: Sequence[bytes], names: Sequence[str] | None = None) -> None:
        names = names or [f"WEBHOOK_SECRET_KEYS[{place}]" for place in range(len(keys))]
        fernets = [fernet_for(key, name) for key, name in zip(keys, names, strict=True)]
        self._first = fernets[0]
        self._any = MultiFernet(fernets)

    @classmethod
    def from_key_file(cls, path: Path) -> "WebhookSecrets":
        return cls([key_in_file(path)], [f"the key in {path}"])

    def encrypt(self, secret: str) -> str:
        return self._first.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if stored.startswith(CLEAR_PREFIX):
            return stored
        try:
            return self._any.decrypt(stored.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnreadableError("no key of WEBHOOK_SECRET_KEYS decrypts it") from None

    def reencrypted(self, stored: str) -> str | None:
        """`stored` encrypted with the first key, or None when it already is (a second run of
        the command changes nothing)."""
        if stored.startswith(CLEAR_PREFIX):
            return self.encrypt(stored)
        token = stored.encode("ascii")
        try:
            self._first.decrypt(token)
            return None
        except InvalidToken:
            pass
        try:
            return self._any.rotate(token).decode("ascii")
        except InvalidToken:
            raise SecretUnreadableError("no key of WEBHOOK_SECRET_KEYS decrypts it") from None


def webhook_secrets(settings: Settings) -> WebhookSecrets:
    """The settings' keys, or the key file's when there are none; built once per process."""
    keys = tuple(key.get_secret_value() for key in settings.webhook_secret_keys)
    return _secrets_for(keys, settings.webhook_secret_key_file)


@lru_cache(maxsize=8)
def _secrets_for(keys: tuple[str, ...], key_file: Path) -> WebhookSecrets:
    if keys:
        return WebhookSecrets([key.encode() for key in keys])
    logger.info("WEBHOOK_SECRET_KEYS is unset: webhook secrets are encrypted with %s", key_file)
    return WebhookSecrets.from_key_file(key_file)


def key_in_file(path: Path) -> bytes:
    """The key kept in `path`, made there first when there is none."""
    if not path.exists():
        write_new_key(path)
    if path.stat().st_mode & 0o077:
        logger.warning("%s can be read by others than its owner: chmod 600 it", path)
    return path.read_bytes().strip()


def write_new_key(path: Path) -> None:
    """A new key in `path`, mode 0600. Written whole under a temporary name, then linked into
    place: of processes starting together, one key wins and none reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(Fernet.generate_key() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key stands
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


async def encrypt_stored_secrets(
    unit_of_work: UnitOfWork,
    secrets: WebhookSecrets,
    batch_size: int = 500,
    on_batch: Callable[[int], None] = lambda count: None,
) -> int:
    """Encrypt every stored secret and previous secret with the first key, those in clear
    too, a batch of endpoints per transaction; returns how many endpoints changed. The rows of
    a batch stay locked until it is committed: a rotation meanwhile waits, it is not undone."""
    changed, after = 0, None
    while True:
        async with unit_of_work() as session:
            endpoints = WebhookEndpointRepository(session)
            batch = await endpoints.stored_secrets_after(after, batch_size)
            for stored in batch:
                changed += await reencrypt_endpoint(endpoints, secrets, stored)
        if not batch:
            return changed
        after = batch[-1].id
        on_batch(len(batch))


async def reencrypt_endpoint(
    endpoints: WebhookEndpointRepository, secrets: WebhookSecrets, stored: StoredSecrets
) -> int:
    """1 when the endpoint's secrets were encrypted again, 0 when they already were."""
    try:
        secret = secrets.reencrypted(stored.secret)
        previous = stored.previous_secret and secrets.reencrypted(stored.previous_secret)
    except SecretUnreadableError as error:
        raise SecretUnreadableError(
            f"webhook endpoint {stored.id}: {error}; add the key it was encrypted with "
            "(anywhere after the first) and run the command again"
        ) from None
    if secret is None and not previous:
        return 0
    await endpoints.store_secrets(
        stored.id, secret or stored.secret, previous or stored.previous_secret
    )
    return 1
