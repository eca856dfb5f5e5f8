"""What every command needs: the server it talks to, with which credentials, and the console."""

from dataclasses import dataclass

import typer
from rich.console import Console

from app.client.api import TalkerApi
from app.client.credentials import CredentialStore


@dataclass(frozen=True, slots=True)
class Server:
    """Where the commands go, and with which credentials."""

    url: str
    api_key: str | None
    store: CredentialStore

    def api(self) -> TalkerApi:
        """A connection with the API key when one is given, else the stored login, else none."""
        login = None if self.api_key else self.store.get(self.url)
        return TalkerApi(self.url, self.api_key or (login.token if login else None))

    def anonymous(self) -> TalkerApi:
        return TalkerApi(self.url)


def server(ctx: typer.Context) -> Server:
    found: Server = ctx.obj
    return found


# Where the output is not a terminal (a pipe, a file), lines are not cut to rich's default 80
# columns: an id or a link folded over two lines cannot be copied or searched for.
WIDTH_WHEN_NOT_A_TERMINAL = 200


def console() -> Console:
    shown = Console(highlight=False)
    if shown.is_terminal:
        return shown
    return Console(highlight=False, width=WIDTH_WHEN_NOT_A_TERMINAL)
