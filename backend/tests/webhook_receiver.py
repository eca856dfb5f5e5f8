"""A webhook receiver for the tests: a tiny HTTP server on 127.0.0.1 in the test's own event
loop, which records each request and answers with the statuses it is told to, in turn."""

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path


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


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 while the block runs."""
    listening = Receiver(port=0)
    server = await asyncio.start_server(listening.handle, "127.0.0.1", 0)
    listening.port = server.sockets[0].getsockname()[1]
    try:
        yield listening
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def tls_receiver(certificate: Path, key: Path) -> AsyncIterator[Receiver]:
    """A receiver answering https on a free port of 127.0.0.1 with this certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    listening = Receiver(port=0)
    server = await asyncio.start_server(listening.handle, "127.0.0.1", 0, ssl=context)
    listening.port = server.sockets[0].getsockname()[1]
    try:
        yield listening
    finally:
        server.close()
        await server.wait_closed()


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
