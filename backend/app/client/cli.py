"""`talker`: talk to your videos from a terminal (`talker --help`, or `python -m app.client`).

Each command is one or a few API calls (`api.py`). Credentials: `talker login` keeps a token in
the config folder (`credentials.py`), or an API key comes from `--api-key` / `TALKER_API_KEY`
and is used instead. A failure prints the server's message, or the URL it could not reach, on
standard error (no traceback) and exits 1. No secret is printed, but a new API key, once.
"""

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import typer
from rich.console import Console

# Typer carries its own copy of click and names its classes nowhere public.
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperGroup

from app.client.api import ApiError, ClientError, TalkerApi
from app.client.collections import chapters, collections_app
from app.client.context import Server, console, server
from app.client.credentials import CredentialStore, Login
from app.client.output import (
    api_keys_table,
    print_citations,
    print_hits,
    timestamp,
    transcripts_table,
)

DEFAULT_URL = "http://127.0.0.1:8000"
JOB_POLL_SECONDS = 0.5
FINISHED = ("done", "failed")


def show_error(error: ClientError) -> None:
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    console.print(f"error: {error}", style="red", markup=False)
    if isinstance(error, ApiError):
        for detail in error.details:
            line = f"{detail.get('field')}: {detail.get('message')}"
            if detail.get("field") and line not in str(error):
                console.print(f"  {line}", markup=False)
        if error.status_code == 401:
            console.print("Log in with `talker login`, or set TALKER_API_KEY.", markup=False)


ADMIN_HELP = "On the server itself: administrators, and embedding what lacks a vector."
LISTING = "talker.listing"  # ctx.meta: the help is listing the commands, not running one


class TalkerGroup(TyperGroup):
    """Shows a ClientError as a message (no traceback) and exits 1; mounts the server-side
    commands as `talker admin …` only when they are used: their imports (the server's database
    stack) take a second, which `talker --help` would pay just to list them."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        ctx.meta[LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta[LISTING] = False

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as error:
            show_error(error)
            raise typer.Exit(1) from error

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), "admin"]

    def get_command(self, ctx: Context, name: str) -> Command | None:
        if name != "admin":
            return super().get_command(ctx, name)
        if ctx.meta.get(LISTING):
            return TyperGroup(name="admin", help=ADMIN_HELP)
        from app.cli import cli as server_cli

        command = typer.main.get_command(server_cli)
        command.name = "admin"
        command.help = ADMIN_HELP
        return command


app = typer.Typer(
    cls=TalkerGroup,
    help="Talk to your YouTube videos from a terminal: ingest, upload, ask, search, draft.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys, for scripts and other programs.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(collections_app, name="collections")
app.command()(chapters)


@app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="TALKER_URL", help="The YouTube Talker server.")
    ] = DEFAULT_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="TALKER_API_KEY",
            help="An API key (ytk_…) to use instead of the login; prefer the variable, "
            "which other users cannot see in the process list.",
            show_default=False,
        ),
    ] = None,
) -> None:
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"not an http:// or https:// URL: {url!r}", param_hint="--url")
    ctx.obj = Server(url.rstrip("/"), api_key or None, CredentialStore())


PasswordFromStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (scripts)."),
]
Email = Annotated[str, typer.Option(prompt=True, help="Your email.")]


def read_password(from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


@app.command()
def register(ctx: typer.Context, email: Email, password_stdin: PasswordFromStdin = False) -> None:
    """Create an account (the password is asked twice, hidden), then log in."""
    password = read_password(password_stdin, confirm=True)
    target = server(ctx)
    with target.anonymous() as api:
        said = api.register(email, password)["message"]
        try:
            token = api.login(email, password)
        except ApiError as error:
            if error.status_code != 401:
                raise
            # The email was someone's already (registering does not say whose): not logged in.
            console().print(said)
            raise typer.Exit(1) from None
    target.store.put(target.url, Login(email=email, token=token))
    console().print(f"Account ready. Logged in to {target.url} as {email}.")


@app.command()
def login(ctx: typer.Context, email: Email, password_stdin: PasswordFromStdin = False) -> None:
    """Log in and keep the token in your config folder (readable by you only)."""
    password = read_password(password_stdin, confirm=False)
    target = server(ctx)
    with target.anonymous() as api:
        token = api.login(email, password)
    target.store.put(target.url, Login(email=email, token=token))
    console().print(f"Logged in to {target.url} as {email}.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """Revoke the stored login token and forget it."""
    target = server(ctx)
    stored = target.store.get(target.url)
    if stored is None:
        console().print(f"Not logged in to {target.url}.")
        return
    try:
        with TalkerApi(target.url, stored.token) as api:
            api.logout()
    except ApiError as error:
        if error.status_code != 401:  # 401: it had expired or was revoked already
            raise
    target.store.forget(target.url)
    console().print(f"Logged out of {target.url}.")


@app.command()
def whoami(ctx: typer.Context) -> None:
    """The account behind your credentials."""
    with server(ctx).api() as api:
        me = api.me()
    role = " (administrator)" if me["is_admin"] else ""
    console().print(f"{me['email']}{role} on {server(ctx).url}")


def job_state(job: dict[str, Any]) -> str:
    video = job["youtube_video_id"]
    if job["status"] == "queued" and job["error"]:
        return f"{video}: waiting to try again ({job['error']})"
    attempt = f", attempt {job['attempts']} of {job['max_attempts']}" if job["attempts"] else ""
    return f"{video}: {job['status']}{attempt}"


def wait_for(api: TalkerApi, job: dict[str, Any], out: Console) -> dict[str, Any]:
    try:
        with out.status(job_state(job)) as status:
            while job["status"] not in FINISHED:
                time.sleep(JOB_POLL_SECONDS)
                job = api.job(job["id"])
                status.update(job_state(job))
    except KeyboardInterrupt:
        out.print(f"Stopped waiting; job {job['id']} goes on on the server.")
        raise typer.Exit(130) from None
    return job


Languages = Annotated[
    list[str] | None,
    typer.Option("--language", "-l", help="Caption language to try, in order; repeatable."),
]


@app.command()
def ingest(
    ctx: typer.Context,
    video: Annotated[str, typer.Argument(help="A YouTube link or video id.")],
    language: Languages = None,
    wait: Annotated[bool, typer.Option(help="Wait until the captions are stored.")] = True,
) -> None:
    """Fetch a video's captions, showing the job's progress until it is done or failed."""
    out = console()
    with server(ctx).api() as api:
        job = api.ingest(video, language)
        if not wait:
            out.print(f"Job {job['id']}: {job_state(job)}")
            return
        job = wait_for(api, job, out)
        if job["status"] == "failed":
            raise ClientError(f"{job['youtube_video_id']} failed: {job['error']}")
        transcript = api.transcript(job["transcript_id"])
    title = transcript["title"] or transcript["youtube_video_id"]
    length = timestamp(transcript["duration"])
    out.print(f"Stored {title} ({length}): transcript {job['transcript_id']}")


@app.command()
def upload(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="An SRT or WebVTT caption file.")
    ],
    video: Annotated[str, typer.Option(help="The video's YouTube link or id.")],
    title: Annotated[str | None, typer.Option(help="The video's title.")] = None,
    channel: Annotated[str | None, typer.Option(help="The channel's name.")] = None,
) -> None:
    """Store a transcript from a caption file (when the video cannot be fetched)."""
    with server(ctx).api() as api:
        stored = api.upload(file, video, title, channel)
    name = stored["title"] or stored["youtube_video_id"]
    chunks = f"{stored['chunk_count']} chunk" + ("" if stored["chunk_count"] == 1 else "s")
    console().print(f"Stored {name}: {chunks}, transcript {stored['id']}")


Videos = Annotated[
    list[str] | None,
    typer.Option(
        "--video", "-v", help="Only this video (link, YouTube id or transcript id); repeatable."
    ),
]


def transcript_ids(api: TalkerApi, videos: list[str] | None) -> list[str] | None:
    return [api.transcript_id_for(video) for video in videos] if videos else None


@app.command()
def ask(
    ctx: typer.Context,
    question: str,
    conversation: Annotated[
        UUID | None, typer.Option("--conversation", "-c", help="Go on with this conversation.")
    ] = None,
    video: Videos = None,
) -> None:
    """Ask your videos; the answer streams in, then the links to where it is said."""
    out = console()
    with server(ctx).api() as api:
        only = transcript_ids(api, video)
        conversation_id = str(conversation) if conversation else api.create_conversation()
        answer = None
        for event in api.ask(conversation_id, question, only):
            if event.event == "delta":
                out.out(event.data["text"], end="", highlight=False)
            elif event.event == "done":
                answer = event.data
            elif event.event == "error":
                out.print()
                raise ClientError(event.data["error"]["message"])
    out.print()
    if answer is None:
        raise ClientError("the answer was cut off before its end")
    print_citations(out, answer["metadata"].get("citations", []))
    out.print(f"(go on with: talker ask -c {conversation_id} …)", style="dim", soft_wrap=True)


SearchMode = Literal["hybrid", "lexical", "semantic"]


@app.command()
def search(
    ctx: typer.Context,
    words: str,
    mode: Annotated[SearchMode, typer.Option(help="Match words, meaning, or both.")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=50)] = 10,
    video: Videos = None,
) -> None:
    """The passages of your videos that answer, best first, with links to the moment."""
    with server(ctx).api() as api:
        results = api.search(words, mode, limit, transcript_ids(api, video))
    print_hits(console(), results)


@app.command()
def videos(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Your videos' transcripts, newest first."""
    with server(ctx).api() as api:
        page = api.transcripts(limit, offset)
    console().print(transcripts_table(page))


app.command("list", hidden=True, help="The same as `videos`.")(videos)


DraftKind = Literal["linkedin", "twitter", "blog", "email"]


@app.command()
def draft(
    ctx: typer.Context,
    kind: DraftKind,
    topic: str,
    tone: Annotated[str | None, typer.Option(help="e.g. 'upbeat'.")] = None,
    video: Videos = None,
) -> None:
    """A draft post from what your videos say about a topic, with its sources."""
    out = console()
    with server(ctx).api() as api:
        result = api.draft(kind, topic, tone, transcript_ids(api, video))
    out.out(result["text"], highlight=False)
    out.print()
    print_citations(out, result["sources"])


# An enum, where the other choices are Literals: Typer reads a repeatable option's choices only
# from an enum.
class KeyScope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    name: str,
    scope: Annotated[
        list[KeyScope] | None,
        typer.Option(help="What the key may do (repeat it); read and write when left out."),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="The key stops working after this.")
    ] = None,
) -> None:
    """A new key; its secret is printed this once."""
    scopes = [item.value for item in scope] if scope else None
    with server(ctx).api() as api:
        key = api.create_api_key(name, scopes, expires_in_days)
    out = console()
    out.print(f"Created {key['name']} ({key['id']}). Store the key now; it is not shown again:")
    out.out(key["key"], highlight=False)


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Your keys (their first characters only)."""
    with server(ctx).api() as api:
        console().print(api_keys_table(api.api_keys()))


@keys_app.command("revoke")
def revoke_key(ctx: typer.Context, key_id: UUID) -> None:
    """Revoke a key: it stops working at once."""
    with server(ctx).api() as api:
        api.revoke_api_key(str(key_id))
    console().print(f"Revoked {key_id}.")


def main() -> None:
    app()
