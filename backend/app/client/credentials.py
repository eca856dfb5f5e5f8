"""The login token, kept between commands in the user's config folder.

`$XDG_CONFIG_HOME/talker/credentials.json` on Linux (`~/.config/talker/…` when the variable is
unset; the platform's usual folder elsewhere), readable by its owner only: the file is 0600 in a
0700 folder, written whole to a new file and moved into place. Tokens are kept per server URL,
so a token is only ever sent to the server that issued it.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

from app.client.api import ClientError

APP_NAME = "talker"


def credentials_path() -> Path:
    return Path(typer.get_app_dir(APP_NAME)) / "credentials.json"


@dataclass(frozen=True, slots=True)
class Login:
    email: str
    token: str


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or credentials_path()

    def get(self, url: str) -> Login | None:
        found = self._servers().get(url)
        return Login(**found) if found else None

    def put(self, url: str, login: Login) -> None:
        self._write(self._servers() | {url: asdict(login)})

    def forget(self, url: str) -> None:
        servers = self._servers()
        if servers.pop(url, None) is not None:
            self._write(servers)

    def _servers(self) -> dict[str, dict[str, str]]:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ClientError(f"cannot read {self.path}: {error}") from error
        servers = stored.get("servers") if isinstance(stored, dict) else None
        return servers if isinstance(servers, dict) else {}

    def _write(self, servers: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = self.path.with_name(self.path.name + ".new")
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a left-over file keeps its mode through O_CREAT
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump({"servers": servers}, file, indent=2)
        os.replace(fresh, self.path)
