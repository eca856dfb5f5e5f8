"""Server-side commands: `python -m app.cli --help`.

- `grant-admin EMAIL` / `revoke-admin EMAIL` (or `make admin EMAIL=…`): administrator rights are
  given here, on the server, never through the API.
- `embed-missing` (or `make embed`): embed every chunk still without a vector for the configured
  embedding model, e.g. after changing EMBEDDING_MODEL. Resumable: each batch is committed, and
  a new run only embeds what is still missing.
- `encrypt-webhook-secrets`: encrypt every stored webhook secret with the first key of
  WEBHOOK_SECRET_KEYS (those stored in clear before encryption too), to rotate the key: put a
  new key first, run this, then drop the old key. Each batch is committed; a second run changes
  nothing. `new-webhook-secret-key` prints a new key.

Each command finds its database as `make run` does (`resolve_database_url`): DATABASE_URL, or
the embedded PostgreSQL, whether `make run` is up or not. A database that cannot be used, like
an unknown email, ends the command with one line on stderr and exit code 1.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.core.config import Settings, get_settings
from app.db.embedded import database_failure_message, resolve_database_url
from app.db.errors import NotFoundError
from app.db.repositories import UserRepository, WebhookEndpointRepository
from app.db.session import UnitOfWork, dispose_engine, get_engine, unit_of_work
from app.services.embeddings.base import EmbeddingError
from app.services.embeddings.factory import build_embedding_provider
from app.services.passage_embeddings import Embedder, ProviderFactory
from app.services.webhooks.secrets import (
    SecretKeysError,
    SecretUnreadableError,
    encrypt_stored_secrets,
    webhook_secrets,
)

cli = typer.Typer(
    help="Server-side commands: administrator rights, embedding what lacks a vector, and the "
    "webhook secrets' key.",
    no_args_is_help=True,
    add_completion=False,
)

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def run_on_database(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Find the database, then run `work` on it; a database that cannot be used fails the
    command with a sentence instead of a traceback."""
    try:
        resolve_database_url()
        return asyncio.run(work())
    except Exception as error:
        message = database_failure_message(error)
        if message is None:
            raise
        fail(message)


async def set_admin(email: str, is_admin: bool) -> str:
    try:
        async with unit_of_work() as session:
            user = await UserRepository(session).set_admin(email, is_admin)
    finally:
        await dispose_engine()
    return f"{user.email} is {'now' if is_admin else 'no longer'} an administrator"


def _set_admin_or_fail(email: str, is_admin: bool) -> None:
    try:
        typer.echo(run_on_database(lambda: set_admin(email, is_admin)))
    except NotFoundError as error:
        fail(str(error))


@cli.command("grant-admin")
def grant_admin(email: str) -> None:
    """Make a user an administrator."""
    _set_admin_or_fail(email, True)


@cli.command("revoke-admin")
def revoke_admin(email: str) -> None:
    """Withdraw a user's administrator rights."""
    _set_admin_or_fail(email, False)


async def embed_missing(
    settings: Settings,
    console: Console,
    factory: ProviderFactory = build_embedding_provider,
) -> int:
    """Embed what lacks a vector, with a progress bar, then make sure the model's vector index
    exists (built after the vectors: faster than growing it one by one). Returns the count."""
    embedder = Embedder(settings, factory)
    try:
        model = (await embedder.provider()).model_name
        missing = await embedder.count_missing(unit_of_work)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task(f"embedding with {model}", total=missing)
            embedded = await embedder.embed_missing(
                unit_of_work, on_batch=lambda count: progress.advance(task, count)
            )
        await embedder.prepare_index(get_engine())
    finally:
        await embedder.aclose()
        await dispose_engine()
    console.print(f"Embedded {embedded} passages with {model}; its vector index is ready.")
    return embedded


@cli.command("embed-missing")
def embed_missing_command() -> None:
    """Embed every chunk lacking a vector for the configured model (resumable)."""
    if not get_settings().embeddings_enabled:
        fail("embeddings are disabled (EMBEDDINGS_ENABLED=false)")
    try:
        run_on_database(lambda: embed_missing(get_settings(), Console(stderr=True)))
    except EmbeddingError as error:
        fail(f"{error}; run the command again to go on")


async def encrypt_webhook_secrets(
    settings: Settings, unit_of_work: UnitOfWork, console: Console, batch_size: int = 500
) -> int:
    """Encrypt every stored webhook secret with the first key, with a progress bar; returns
    how many endpoints changed."""
    secrets = webhook_secrets(settings)
    async with unit_of_work() as session:
        total = await WebhookEndpointRepository(session).count()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("encrypting webhook secrets", total=total)
        changed = await encrypt_stored_secrets(
            unit_of_work, secrets, batch_size, on_batch=lambda count: progress.advance(task, count)
        )
    console.print(
        f"Encrypted the secrets of {changed} of {total} webhook endpoints with the first key; "
        "the others already were."
    )
    return changed


@cli.command("encrypt-webhook-secrets")
def encrypt_webhook_secrets_command() -> None:
    """Encrypt every webhook secret with the first key of WEBHOOK_SECRET_KEYS (idempotent)."""

    async def encrypt() -> int:
        try:
            return await encrypt_webhook_secrets(get_settings(), unit_of_work, Console(stderr=True))
        finally:
            await dispose_engine()

    try:
        run_on_database(encrypt)
    except (SecretKeysError, SecretUnreadableError) as error:
        fail(str(error))


@cli.command("new-webhook-secret-key")
def new_webhook_secret_key() -> None:
    """Print a new key for WEBHOOK_SECRET_KEYS."""
    typer.echo(Fernet.generate_key().decode())


if __name__ == "__main__":
    cli()
