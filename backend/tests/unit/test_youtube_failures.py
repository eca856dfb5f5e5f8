"""Sorting fetch failures: real local sockets checked against the replay's synthetic errors, the
rarer requests errors, Retry-After, and the upload route the messages point to."""

import errno
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from fastapi.routing import APIRoute
from urllib3.exceptions import MaxRetryError, NewConnectionError
from youtube_transcript_api._errors import FailedToCreateConsentCookie, YouTubeRequestFailed

from app.api.routes import transcripts
from app.main import API_PREFIX
from app.services.youtube.failures import (
    UPLOAD_ROUTE,
    FailureCode,
    from_library,
    from_network,
    retry_after_seconds,
)
from testkit.replay_http import network_error


def raised_by(url: str, timeout: tuple[float, float]) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as caught:
        requests.get(url, timeout=timeout)
    return caught.value


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local server that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
        thread.start()
        yield server.getsockname()[1]
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()


def test_a_real_refused_connection_is_sorted_as_the_replayed_one(closed_port: int) -> None:
    real = raised_by(f"http://127.0.0.1:{closed_port}/watch", (2, 2))
    replayed = network_error("refused", real.request)  # type: ignore[arg-type]

    assert type(replayed) is type(real)
    assert from_network(real).code == from_network(replayed).code
    assert from_network(real).code == FailureCode.NETWORK_UNREACHABLE
    assert from_network(real).reason == from_network(replayed).reason


def test_a_real_read_timeout_is_sorted_as_the_replayed_one(silent_server: int) -> None:
    real = raised_by(f"http://127.0.0.1:{silent_server}/watch", (2, 0.05))
    replayed = network_error("read_timeout", real.request)  # type: ignore[arg-type]

    assert type(replayed) is type(real)
    assert from_network(real).code == from_network(replayed).code == FailureCode.TIMEOUT
    assert from_network(real).transient is True


def request_to_youtube() -> requests.PreparedRequest:
    return requests.Request("GET", "https://www.youtube.com/watch?v=Rpl4yF1xtr5").prepare()


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (
            requests.exceptions.SSLError("certificate verify failed"),
            FailureCode.NETWORK_UNREACHABLE,
            "a proxy or firewall may be intercepting it",
        ),
        (
            requests.exceptions.ProxyError("Cannot connect to proxy."),
            FailureCode.NETWORK_UNREACHABLE,
            "the proxy could not be reached",
        ),
        (
            requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
            FailureCode.CONNECTION_LOST,
            "was cut",
        ),
        (
            requests.TooManyRedirects("Exceeded 30 redirects."),
            FailureCode.UNREADABLE_ANSWER,
            "(TooManyRedirects)",
        ),
    ],
)
def test_rarer_request_errors(
    error: requests.RequestException, code: FailureCode, reason: str
) -> None:
    error.request = request_to_youtube()

    sorted_error = from_network(error)

    assert sorted_error.code == code
    assert reason in sorted_error.reason


def test_a_connection_a_firewall_forbids_is_unreachable_too() -> None:
    """Any errno without a sentence of its own (here EPERM, a local firewall's answer)."""
    denied = PermissionError(errno.EPERM, "Operation not permitted")
    message = f"Failed to establish a new connection: {denied}"
    reason = NewConnectionError(None, message)  # type: ignore[arg-type]
    reason.__cause__ = denied
    wrapped = MaxRetryError(None, "/watch", reason)  # type: ignore[arg-type]
    error = requests.ConnectionError(wrapped, request=request_to_youtube())

    sorted_error = from_network(error)

    assert sorted_error.code == FailureCode.NETWORK_UNREACHABLE
    assert sorted_error.reason == (
        "Could not reach YouTube from this server (no connection could be made)"
    )


def test_a_library_error_not_known_here_is_named_and_not_retried() -> None:
    error = from_library(FailedToCreateConsentCookie("Rpl4yF1xtr5"), None)

    assert error.code == FailureCode.UNREADABLE_ANSWER
    assert error.transient is False
    assert "FailedToCreateConsentCookie" in error.reason


def test_a_server_error_without_its_answer_is_still_retried() -> None:
    failed = YouTubeRequestFailed("Rpl4yF1xtr5", requests.HTTPError("502 Server Error"))

    error = from_library(failed, None)

    assert error.code == FailureCode.UPSTREAM_ERROR
    assert error.transient is True


NOW = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Tue, 01 Dec 2026 00:02:00 GMT", 120.0),  # the HTTP-date form
        ("Mon, 30 Nov 2026 23:00:00 GMT", 0.0),  # already past
        ("Tue, 01 Dec 2026 00:01:00 -0000", 60.0),  # a date without a zone is UTC
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_either_form(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_the_upload_route_the_messages_point_to_exists() -> None:
    method, path = UPLOAD_ROUTE.split(" ")
    routes = {
        (API_PREFIX + route.path, frozenset(route.methods or ()))
        for route in transcripts.router.routes
        if isinstance(route, APIRoute)
    }

    assert (path, frozenset({method})) in routes
