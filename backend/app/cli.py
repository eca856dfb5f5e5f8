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

Each command finds its database as `make run` does (`resolve_database`): DATABASE_URL, or the
embedded PostgreSQL, whether `make run` is up or not. The settings are the environment's, read
once, or those the caller gives (`cli(obj=settings)`). A database that cannot be used, like
an unknown email, ends the command with one line on stderr and exit code 1.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.core.config import Settings, settings_or_exit
from app.db.embedded import database_failures_said, resolve_database
from app.db.errors import NotFoundError
from app.db.repositories import UserRepository, WebhookEndpointRepository
from app.db.session import Database, UnitOfWork
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
DatabaseWork = Callable[[Database], Coroutine[Any, Any, T]]


@cli.callback()
def read_settings(context: typer.Context) -> None:
    # The settings every command runs with: the caller's (`cli(obj=settings)`), else the
    # environment's, read here once.
    if context.obj is None:
        context.obj = settings_or_exit()


def settings_of(context: typer.Context) -> Settings:
    settings: Settings = context.obj
    return settings


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def run_on_database(settings: Settings, work: DatabaseWork[T]) -> T:
    """Find the database of the settings, then run `work` on it; a database that cannot be
    used fails the command with a sentence instead of a traceback."""
    with database_failures_said(fail):
        database = Database(resolve_database(settings))
        return asyncio.run(closing_after(work, database))


async def closing_after(work: DatabaseWork[T], database: Database) -> T:
    """`work` on the database, whose connections are closed when it is done."""
    try:
        return await work(database)
    finally:
        await database.dispose()


async def set_admin(database: Database, email: str, is_admin: bool) -> str:
    async with database.unit_of_work() as session:
        user = await UserRepository(session).set_admin(email, is_admin)
    return f"{user.email} is {'now' if is_admin else 'no longer'} an administrator"


def _set_admin_or_fail(settings: Settings, email: str, is_admin: bool) -> None:
    try:
        typer.echo(run_on_database(settings, lambda database: set_admin(database, email, is_admin)))
    except NotFoundError as error:
        fail(str(error))


@cli.command("grant-admin")
def grant_admin(context: typer.Context, email: str) -> None:
    """Make a user an administrator."""
    _set_admin_or_fail(settings_of(context), email, True)


@cli.command("revoke-admin")
def revoke_admin(context: typer.Context, email: str) -> None:
    """Withdraw a user's administrator rights."""
    _set_admin_or_fail(settings_of(context), email, False)


async def embed_missing(
    database: Database,
    console: Console,
    factory: ProviderFactory = build_embedding_provider,
) -> int:
    """Embed what lacks a vector, with a progress bar, then make sure the model's vector index
    exists (built after the vectors: faster than growing it one by one). Returns the count."""
    embedder = Embedder(database.settings, factory)
    unit_of_work = database.unit_of_work
    try:
        model = (await embedder.provider()).model_name
        missing = await embedder.count_missing(unit_of_work)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task(f"embedding with {model}", total=missing)
            embedded = await embedder.embed_missing(
                unit_of_work, on_batch=lambda count: progress.advance(task, count)
            )
        await embedder.prepare_index(database.engine)
    finally:
        await embedder.aclose()
    console.print(f"Embedded {embedded} passages with {model}; its vector index is ready.")
    return embedded


@cli.command("embed-missing")
def embed_missing_command(context: typer.Context) -> None:
    """Embed every chunk lacking a vector for the configured model (resumable)."""
    settings = settings_of(context)
    if not settings.embeddings_enabled:
        fail("embeddings are disabled (EMBEDDINGS_ENABLED=false)")
    try:
        run_on_database(settings, lambda database: embed_missing(database, Console(stderr=True)))
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
def encrypt_webhook_secrets_command(context: typer.Context) -> None:
    """Encrypt every webhook secret with the first key of WEBHOOK_SECRET_KEYS (idempotent)."""

    async def encrypt(database: Database) -> int:
        console = Console(stderr=True)
        return await encrypt_webhook_secrets(database.settings, database.unit_of_work, console)

    try:
        run_on_database(settings_of(context), encrypt)
    except (SecretKeysError, SecretUnreadableError) as error:
        fail(str(error))


@cli.command("new-webhook-secret-key")
def new_webhook_secret_key() -> None:
    """Print a new key for WEBHOOK_SECRET_KEYS."""
    typer.echo(Fernet.generate_key().decode())


if __name__ == "__main__":
    cli()
