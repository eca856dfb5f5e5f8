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


def console() -> Console:
    return Console(highlight=False)
