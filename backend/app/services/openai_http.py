"""Talking to an OpenAI-compatible HTTP API: one client set-up and one retry policy, shared by
the language model (chat/completions) and the embedding provider (embeddings).

429, 5xx and transport errors are retried with exponential backoff (or the server's
`Retry-After`, up to 30 s); other statuses fail at once. The API key goes in a header only:
it never appears in an error message or a log line.

A server's error body may echo the prompt, the key or its own internals, so it never goes into
the raised error (whose message users may see): it is logged at WARNING, shortened, on one
line, with the key blanked.
"""

import asyncio
import base64
import logging
from typing import Any

import httpx
from pydantic import SecretStr

from app.core.config import Settings

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 30.0
LOGGED_BODY_CHARACTERS = 1000


class UpstreamError(Exception):
    """A server could not answer: unreachable, refused, or an answer that cannot be used.

    The message says what failed and the HTTP status, never the server's body or address, so
    it may be shown; `status` is the HTTP status the server answered, None when it answered none.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_client(base_url: str, api_key: SecretStr | None, settings: Settings) -> httpx.AsyncClient:
    """A client for the API at `base_url`, with the key (if any) and the configured timeouts."""
    headers = {}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers=headers,
        timeout=httpx.Timeout(
            settings.llm_timeout_seconds, connect=settings.llm_connect_timeout_seconds
        ),
    )


class RetryingPoster:
    """POSTs JSON, retrying what may pass; raises `error_type` naming `subject` when it fails."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        *,
        subject: str,
        error_type: type[UpstreamError],
    ) -> None:
        self.client = client
        self.retries = settings.llm_max_retries
        self.base_seconds = settings.llm_retry_base_seconds
        self.subject = subject
        self.error_type = error_type

    async def post(self, path: str, payload: dict[str, Any], *, stream: bool) -> httpx.Response:
        """The response of the first attempt that succeeds; with stream=True the body is left
        unread (the caller closes the response)."""
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                request = self.client.build_request("POST", path, json=payload)
                response = await self.client.send(request, stream=stream)
            except httpx.TransportError as error:
                # Its text may name the server's address: logged, not raised.
                logger.warning("%s is unreachable: %r", self.subject, error)
                if attempt == attempts:
                    unreachable = f"{self.subject} is unreachable ({type(error).__name__})"
                    raise self.error_type(unreachable) from error
                await asyncio.sleep(self.backoff(attempt, None))
                continue
            if response.status_code < 400:
                return response
            await response.aread()
            await response.aclose()
            status = response.status_code
            retrying = status in RETRYABLE_STATUSES and attempt < attempts
            self.log_refusal(response, retrying=retrying)
            if not retrying:
                raise self.error_type(f"{self.subject} answered HTTP {status}", status=status)
            await asyncio.sleep(self.backoff(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")

    def log_refusal(self, response: httpx.Response, *, retrying: bool) -> None:
        """The start of the error body, for whoever runs the server; repr keeps it one line.
        The key is blanked before the body is cut, so that no part of it is left at the cut."""
        body = self.without_key(response.text)[:LOGGED_BODY_CHARACTERS]
        then = "; retrying" if retrying else ""
        logger.warning("%s answered HTTP %d%s: %r", self.subject, response.status_code, then, body)

    def without_key(self, text: str) -> str:
        """`text` with the API key blanked, should the server have echoed it; and the password
        of a base URL written with one (http://user:password@host), as sent (Basic) or not."""
        key = self.client.headers.get("Authorization", "").removeprefix("Bearer ")
        secrets = {key: "[API key]"} if key else {}
        url = self.client.base_url
        if url.password:
            basic = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
            secrets |= {basic: "[password]", url.password: "[password]"}
        for secret, blank in secrets.items():
            text = text.replace(secret, blank)
        return text

    def backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
            except ValueError:
                pass
        return float(self.base_seconds * 2 ** (attempt - 1))
