"""`talker collections …`: a playlist or a channel added as a collection, its progress shown as
it moves (the server's event stream), and `talker chapters VIDEO`: a video's outline."""

from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.client.api import TalkerApi
from app.client.context import console, server
from app.client.output import timestamp

collections_app = typer.Typer(
    help="Collections: a playlist's or a channel's videos, fetched one by one.",
    no_args_is_help=True,
)


def settled(progress: dict[str, Any]) -> int:
    return int(progress["done"]) + int(progress["failed"])


def follow(api: TalkerApi, collection: dict[str, Any], out: Console) -> dict[str, Any]:
    """A bar that moves with the collection's progress until nothing is pending."""
    progress = collection["progress"]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=out, transient=False) as bar:
            task = bar.add_task(
                collection["name"], total=progress["total"], failed=progress["failed"]
            )
            bar.update(task, completed=settled(progress))
            for event in api.collection_events(collection["id"]):
                bar.update(task, completed=settled(event.data), failed=event.data["failed"])
                if event.event == "ready":
                    break
    except KeyboardInterrupt:
        out.print(f"Stopped following; collection {collection['id']} goes on on the server.")
        raise typer.Exit(130) from None
    return api.collection(collection["id"])


def print_outcome(collection: dict[str, Any], out: Console) -> None:
    progress = collection["progress"]
    out.print(
        f"{collection['name']}: {progress['done']} done, {progress['failed']} failed, "
        f"{progress['pending']} pending (collection {collection['id']})"
    )
    for video in collection["videos"]:
        if video["status"] == "failed":
            out.print(f"  {video['video_id']} {video['title'] or ''}: {video['reason']}")
    if collection["listing_truncated"]:
        out.print("  The source holds more videos than one listing takes.")
    if collection["listing_error"]:
        out.print(f"  The listing stopped early: {collection['listing_error']}")


@collections_app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="A playlist or channel link.")],
    name: Annotated[str | None, typer.Option(help="The collection's name.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the progress until done.")] = True,
) -> None:
    """Add a playlist's or a channel's videos, and show their progress as they are fetched."""
    out = console()
    with server(ctx).api() as api:
        collection = api.create_collection(url, name)
        if wait and not collection["progress"]["ready"]:
            collection = follow(api, collection, out)
    print_outcome(collection, out)


@collections_app.command("list")
def list_collections(ctx: typer.Context) -> None:
    """Your collections, with their progress."""
    with server(ctx).api() as api:
        page = api.collections()
    table = Table()
    for column in ("name", "kind", "done", "failed", "pending", "id"):
        table.add_column(column)
    for item in page["items"]:
        progress = item["progress"]
        table.add_row(
            item["name"],
            item["kind"],
            str(progress["done"]),
            str(progress["failed"]),
            str(progress["pending"]),
            item["id"],
        )
    console().print(table)


@collections_app.command("show")
def show(
    ctx: typer.Context,
    collection_id: UUID,
    wait: Annotated[bool, typer.Option(help="Follow the progress until done.")] = False,
) -> None:
    """A collection's progress and its failed videos (with `--wait`, follow it)."""
    out = console()
    with server(ctx).api() as api:
        collection = api.collection(str(collection_id))
        if wait and not collection["progress"]["ready"]:
            collection = follow(api, collection, out)
    print_outcome(collection, out)


@collections_app.command("refresh")
def refresh(ctx: typer.Context, collection_id: UUID) -> None:
    """List the playlist or channel again and fetch only its new videos."""
    with server(ctx).api() as api:
        result = api.refresh_collection(str(collection_id))
    console().print(f"{result['added']} new videos, {result['queued']} queued.")


def chapters(
    ctx: typer.Context,
    video: Annotated[str, typer.Argument(help="A video's link, YouTube id or transcript id.")],
) -> None:
    """A video's outline: its chapters with links to their moments, and a summary."""
    out = console()
    with server(ctx).api() as api:
        outline = api.chapters(api.transcript_id_for(video))
    if outline["summary"]:
        out.print(outline["summary"], highlight=False)
        out.print()
    for chapter in outline["chapters"]:
        out.print(f"{timestamp(chapter['start_seconds'])}  {chapter['title']}", markup=False)
        out.print(f"    {chapter['url']}", markup=False)
    if not outline["chapters"]:
        out.print("No chapters: the transcript has no timing.")
