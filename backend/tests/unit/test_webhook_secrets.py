"""Webhook signing secrets at rest: encrypted with the first of WEBHOOK_SECRET_KEYS, read with
any of them, clear legacy secrets still read; without keys, a key file made once."""

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from typer.testing import CliRunner

from app import cli
from app.core.config import Settings
from app.core.security import new_webhook_secret
from app.services.webhooks.secrets import (
    SecretKeysError,
    SecretUnreadableError,
    WebhookSecrets,
    webhook_secrets,
)

OLD_KEY, NEW_KEY = Fernet.generate_key(), Fernet.generate_key()


def settings_with(keys: list[bytes], key_file: Path) -> Settings:
    return Settings(
        webhook_secret_keys=[SecretStr(key.decode()) for key in keys],
        webhook_secret_key_file=key_file,
        _env_file=None,
    )


def test_a_secret_is_stored_encrypted_and_read_back() -> None:
    secrets = WebhookSecrets([NEW_KEY])
    secret = new_webhook_secret()

    stored = secrets.encrypt(secret)

    assert "whsec_" not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert stored != secrets.encrypt(secret)  # a fresh IV each time
    assert secrets.decrypt(stored) == secret


def test_a_secret_stored_in_clear_before_encryption_is_read_as_is() -> None:
    secret = new_webhook_secret()
    assert WebhookSecrets([NEW_KEY]).decrypt(secret) == secret


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    secret = new_webhook_secret()
    under_old = WebhookSecrets([OLD_KEY]).encrypt(secret)
    rotating = WebhookSecrets([NEW_KEY, OLD_KEY])

    again = rotating.reencrypted(under_old)

    assert rotating.decrypt(under_old) == secret
    assert again is not None
    assert WebhookSecrets([NEW_KEY]).decrypt(again) == secret
    assert rotating.reencrypted(again) is None  # already under the first key: left as is
    clear = rotating.reencrypted(secret)
    assert clear is not None
    assert WebhookSecrets([NEW_KEY]).decrypt(clear) == secret
    with pytest.raises(SecretUnreadableError):
        WebhookSecrets([OLD_KEY]).decrypt(again)


def test_a_key_that_is_not_a_fernet_key_is_named_by_its_place_not_its_value(
    tmp_path: Path,
) -> None:
    settings = settings_with([NEW_KEY, b"not-a-key-at-all"], tmp_path / "unused.key")

    with pytest.raises(SecretKeysError, match=r"WEBHOOK_SECRET_KEYS\[1\]") as refused:
        webhook_secrets(settings)

    assert "not-a-key-at-all" not in str(refused.value)


def test_without_keys_a_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "webhook-secret.key"
    settings = settings_with([], key_file)

    stored = webhook_secrets(settings).encrypt("whsec_abc")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind
    made = key_file.read_bytes()
    # Another process (no cache) finds the same key and reads what the first wrote.
    assert WebhookSecrets.from_key_file(key_file).decrypt(stored) == "whsec_abc"
    assert key_file.read_bytes() == made


def test_keys_from_the_settings_leave_no_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "webhook-secret.key"
    webhook_secrets(settings_with([NEW_KEY], key_file)).encrypt("whsec_abc")
    assert not key_file.exists()


def test_the_command_prints_a_key_the_settings_accept() -> None:
    printed = CliRunner().invoke(cli.cli, ["new-webhook-secret-key"])

    assert printed.exit_code == 0, printed.output
    key = printed.output.strip().encode()
    assert WebhookSecrets([key]).decrypt(WebhookSecrets([key]).encrypt("whsec_x")) == "whsec_x"
