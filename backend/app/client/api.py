"""The HTTP API as a Python object: one method per call the commands make.

Every failure is a `ClientError` whose message is for people: the server's own message (its one
error shape, `{"error": {"code", "message", "details", …}}`) for an error response, or the URL
that could not be reached.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import httpx

from app.services.youtube.links import parse_video_id

API_PREFIX = "/api/v1"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A language model may think for a while between two pieces of an answer.
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=300.0)
PAGE_SIZE = 100  # the API's largest page


class ClientError(Exception):
    """A command cannot go on; the message says why, for people."""


@dataclass
class ApiError(ClientError):
    """The server answered with an error."""

    status_code: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def api_error(response: httpx.Response) -> ApiError:
    """The error in the server's one shape; a plain description for anything else (a proxy's
    HTML page, say)."""
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code, str(error["code"]), str(error["message"]), error["details"]
        )
    except (ValueError, KeyError, TypeError):
        reason = f"{response.status_code} {response.reason_phrase}"
        return ApiError(response.status_code, "http_error", f"{reason} from {response.url}")


def unreachable(url: str, error: httpx.TransportError) -> ClientError:
    reason = str(error) or type(error).__name__
    return ClientError(f"cannot reach {url}: {reason}")


@dataclass(frozen=True, slots=True)
class ServerEvent:
    event: str
    data: Any


def server_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """The server-sent events in the lines of a `text/event-stream` body (data is JSON)."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(event, json.loads("\n".join(data)))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield ServerEvent(event, json.loads("\n".join(data)))


class TalkerApi:
    """A connection to one server, with a bearer credential (login token or API key) or none."""

    def __init__(self, base_url: str, credential: str | None = None) -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self._http = httpx.Client(base_url=base_url + API_PREFIX, headers=headers, timeout=TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as error:
            raise unreachable(self.base_url, error) from error
        if response.is_error:
            raise api_error(response)
        return response

    def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._request(method, path, **options).json()
        return body

    def register(self, email: str, password: str) -> dict[str, Any]:
        credentials = {"email": email, "password": password}
        return self._json("POST", "/auth/register", json=credentials)

    def login(self, email: str, password: str) -> str:
        body = self._json("POST", "/auth/login", json={"email": email, "password": password})
        return str(body["access_token"])

    def logout(self) -> None:
        self._request("POST", "/auth/logout")

    def me(self) -> dict[str, Any]:
        return self._json("GET", "/auth/me")

    def ingest(self, video: str, languages: list[str] | None) -> dict[str, Any]:
        body = {"video": video, "languages": languages or None}
        return self._json("POST", "/transcripts/ingest", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def upload(
        self, path: Path, video: str, title: str | None, channel_name: str | None
    ) -> dict[str, Any]:
        form = {"video": video, "title": title, "channel_name": channel_name}
        fields = {name: value for name, value in form.items() if value is not None}
        with path.open("rb") as file:
            files = {"file": (path.name, file)}
            return self._json("POST", "/transcripts/upload", data=fields, files=files)

    def transcript(self, transcript_id: str) -> dict[str, Any]:
        return self._json("GET", f"/transcripts/{transcript_id}")

    def transcripts(self, limit: int, offset: int) -> dict[str, Any]:
        page = {"limit": limit, "offset": offset}
        return self._json("GET", "/transcripts", params=page)

    def transcript_id_for(self, video: str) -> str:
        """The caller's transcript named by a transcript id, or by a YouTube video id or URL."""
        try:
            return str(UUID(video))
        except ValueError:
            pass
        try:
            video_id = parse_video_id(video)
        except ValueError as error:
            raise ClientError(f"not a transcript id, YouTube id or URL: {video!r}") from error
        offset, total = 0, 1
        while offset < total:
            page = self.transcripts(PAGE_SIZE, offset)
            for transcript in page["items"]:
                if transcript["youtube_video_id"] == video_id:
                    return str(transcript["id"])
            offset, total = offset + PAGE_SIZE, page["total"]
        raise ClientError(f"you have no transcript of video {video_id}: ingest or upload it first")

    def create_collection(self, url: str, name: str | None) -> dict[str, Any]:
        body = {"url": url} | ({"name": name} if name else {})
        return self._json("POST", "/collections", json=body, timeout=STREAM_TIMEOUT)

    def collections(self) -> dict[str, Any]:
        return self._json("GET", "/collections", params={"limit": PAGE_SIZE})

    def collection(self, collection_id: str) -> dict[str, Any]:
        return self._json("GET", f"/collections/{collection_id}")

    def refresh_collection(self, collection_id: str) -> dict[str, Any]:
        path = f"/collections/{collection_id}/refresh"
        return self._json("POST", path, timeout=STREAM_TIMEOUT)

    def collection_events(self, collection_id: str) -> Iterator[ServerEvent]:
        """The collection's progress as it moves: `progress`…, then `ready`."""
        yield from self._events("GET", f"/collections/{collection_id}/events")

    def chapters(self, transcript_id: str) -> dict[str, Any]:
        return self._json("GET", f"/transcripts/{transcript_id}/chapters")

    def _events(self, method: str, path: str, **options: Any) -> Iterator[ServerEvent]:
        headers = {"Accept": "text/event-stream"}
        try:
            with self._http.stream(
                method, path, headers=headers, timeout=STREAM_TIMEOUT, **options
            ) as response:
                if response.is_error:
                    response.read()
                    raise api_error(response)
                yield from server_events(response.iter_lines())
        except httpx.TransportError as error:
            raise unreachable(self.base_url, error) from error

    def create_conversation(self) -> str:
        return str(self._json("POST", "/conversations", json={})["id"])

    def ask(
        self, conversation_id: str, question: str, transcript_ids: list[str] | None
    ) -> Iterator[ServerEvent]:
        """The answer's events as they arrive: `user_message`, `delta`…, then `done` or `error`."""
        body = {"content": question, "transcript_ids": transcript_ids}
        yield from self._events("POST", f"/conversations/{conversation_id}/messages", json=body)

    def search(
        self, words: str, mode: str, limit: int, transcript_ids: list[str] | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"q": words, "mode": mode, "limit": limit}
        if transcript_ids:
            query["transcript_ids"] = transcript_ids
        return self._json("GET", "/search", params=query)

    def draft(
        self, template_type: str, topic: str, tone: str | None, transcript_ids: list[str] | None
    ) -> dict[str, Any]:
        body = {"template_type": template_type, "topic": topic, "transcript_ids": transcript_ids}
        if tone:
            body["tone"] = tone
        return self._json("POST", "/drafts", json=body)

    def create_api_key(
        self, name: str, scopes: list[str] | None = None, expires_in_days: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if scopes:
            body["scopes"] = scopes
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return self._json("POST", "/api-keys", json=body)

    def api_keys(self) -> dict[str, Any]:
        return self._json("GET", "/api-keys", params={"limit": PAGE_SIZE})

    def revoke_api_key(self, key_id: str) -> None:
        self._request("DELETE", f"/api-keys/{key_id}")
