"""A webhook receiver for the tests: a tiny HTTP server on 127.0.0.1 in the test's own event
loop, which records each request and answers with the statuses it is told to, in turn. It
listens on one of `RECEIVER_PORTS`, which the tests' settings allow (WEBHOOK_ALLOWED_PORTS)."""

import asyncio
import contextlib
import random
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Below Linux's ephemeral range (32768-60999), so that outgoing connections do not hold them.
RECEIVER_PORTS = range(28_100, 28_200)

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    # The status of each answer in turn; once used up, 204. A 3xx answer carries `Location`.
    statuses: list[int] = field(default_factory=list)
    received: list[ReceivedRequest] = field(default_factory=list)
    answer_after: float = 0.0  # seconds to wait before answering

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            method, path, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(ReceivedRequest(method, path, headers, body))
            status = self.statuses.pop(0) if self.statuses else 204
            location = f"Location: {self.url('/elsewhere')}\r\n" if 300 <= status < 400 else ""
            head = f"HTTP/1.1 {status} X\r\n{location}Content-Length: 0\r\nConnection: close"
            await asyncio.sleep(self.answer_after)
            writer.write(f"{head}\r\n\r\n".encode())
            with contextlib.suppress(OSError):  # the sender may have given up waiting
                await writer.drain()
        finally:
            writer.close()


def ports_in_turn() -> list[int]:
    """RECEIVER_PORTS from a random one on: tests running side by side rarely try the same."""
    start = random.randrange(len(RECEIVER_PORTS))
    return [*RECEIVER_PORTS[start:], *RECEIVER_PORTS[:start]]


async def serve(
    handle: ConnectionHandler, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    """A server on the first free port of RECEIVER_PORTS."""
    for port in ports_in_turn():
        with contextlib.suppress(OSError):  # taken
            return await asyncio.start_server(handle, "127.0.0.1", port, ssl=ssl_context)
    raise OSError(f"no free port in {RECEIVER_PORTS}")


@asynccontextmanager
async def serving(
    listening: Receiver, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Receiver]:
    server = await serve(listening.handle, ssl_context)
    listening.port = server.sockets[0].getsockname()[1]
    try:
        yield listening
    finally:
        server.close()
        await server.wait_closed()


def receiver() -> contextlib.AbstractAsyncContextManager[Receiver]:
    """A receiver listening on 127.0.0.1 while the block runs."""
    return serving(Receiver(port=0))


def tls_receiver(certificate: Path, key: Path) -> contextlib.AbstractAsyncContextManager[Receiver]:
    """A receiver answering https on 127.0.0.1 with this certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return serving(Receiver(port=0), context)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port of RECEIVER_PORTS that refuses connections: bound, so no other test can listen
    on it meanwhile, but not listening."""
    for port in ports_in_turn():
        with socket.socket() as bound:
            try:
                bound.bind(("127.0.0.1", port))
            except OSError:  # taken
                continue
            yield port
            return
    raise OSError(f"no free port in {RECEIVER_PORTS}")


def self_signed_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` and its key, made by the openssl command."""
    certificate, key = folder / "certificate.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is needed"
    subprocess.run(  # noqa: S603 (our own arguments)
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key
