"""Pure ASGI middleware: request ids with the access log, the request-body size limit, and the
security headers every response carries.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request and streaming stays intact.
"""

import asyncio
import base64
import hashlib
import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ApiError, database_unavailable_response, server_stopping_response
from app.core.logging import request_id_var
from app.db.errors import is_database_unavailable

access_logger = logging.getLogger("app.access")
logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_request_id(scope: Scope) -> str:
    """The caller's request id when it is a sane token, else a new one."""
    supplied = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
    return supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives each request an id (echoed in X-Request-ID and in every log line), writes one
    access-log line with the status and duration, and turns an unhandled exception into a
    logged 500 in the one error shape, or a 503 with Retry-After when the database is
    unavailable (an outage, not a bug) or the server's stop cuts the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        path = loggable(scope["path"])
        try:
            await self.app(scope, receive, send_with_request_id)
        except ClientDisconnect:
            logger.info("client disconnected during %s %s", scope["method"], path)
        except asyncio.CancelledError:
            # The server's stop cut the request (SHUTDOWN_GRACE_SECONDS): answered in the one
            # error shape rather than uvicorn's plain-text 500. The cancellation ends here,
            # with the request it was meant to end.
            logger.warning("stopping: %s %s cut before it was done", scope["method"], path)
            if not response_started:
                await server_stopping_response()(scope, receive, send_with_request_id)
        except Exception as error:
            if is_database_unavailable(error):
                logger.warning(
                    "database unavailable during %s %s: %s",
                    scope["method"],
                    path,
                    type(error).__name__,
                )
                response = database_unavailable_response()
            else:
                logger.exception("unhandled error on %s %s", scope["method"], path)
                response = ApiError(
                    500, "internal_error", "An unexpected error occurred."
                ).response()
            if not response_started:
                await response(scope, receive, send_with_request_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_logger.info("%s %s %d %.1fms", scope["method"], path, status, elapsed_ms)
            request_id_var.reset(token)


def loggable(path: str) -> str:
    """The request path as one log line can hold it: a decoded `%0a` or other control
    character would start a forged line, so each is written as its escape (`\\n`)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in path)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent,
    and bodies in a content coding (gzip, br, …) with 415 and `Accept-Encoding: identity`, as
    RFC 9110 §15.5.16 asks: nothing here decodes them, so they would otherwise be read as
    unreadable bytes, or (a coding on plain text) taken as they are."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"The request body is larger than {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        coding = headers.get("content-encoding", "").strip().lower()
        has_body = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
        if has_body and coding not in ("", "identity"):
            message = f"Request bodies are read as sent: Content-Encoding {coding} is not accepted."
            response = ApiError(415, "unsupported_media_type", message).response()
            response.headers["Accept-Encoding"] = "identity"
            await response(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large()
            response = ApiError(413, "payload_too_large", str(error.detail)).response()
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read, so the app's handler renders it.
                    raise self._too_large()
            return message

        await self.app(scope, counting_receive, send)


# JSON (and every other non-HTML answer) may load nothing and be framed by no page.
API_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions allowing exactly the page's own inline scripts, and no other."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(html)
    ]


def html_content_policy(html: bytes) -> str:
    """The documentation pages' policy: their scripts, styles, images and fetches come from the
    app's own origin only (app/api/docs.py serves the assets), and no inline script runs but
    the page's own, allowed by its hash."""
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            # Swagger UI and ReDoc set style attributes and inject <style> elements.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",  # Swagger UI's icons are data: URLs in its stylesheet
            "connect-src 'self'",
            "worker-src blob:",  # ReDoc's search runs in a worker made from a blob
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """Adds to every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
    no-referrer`, `X-Frame-Options: DENY`, `Cache-Control: no-store` on JSON answers that set
    no caching of their own, a Content-Security-Policy (strict for JSON; for an
    HTML page without a policy of its own, one that lets it load assets from the app's own
    origin and run its own inline scripts, identified by their hashes), and
    `Strict-Transport-Security` when the request came over HTTPS: its scheme, which a proxy
    listed in TRUSTED_PROXIES sets with `X-Forwarded-Proto` (app/main.py).

    An HTML response is held until its body is complete, to hash its inline scripts: HTML
    pages here are small documentation pages; everything else streams as it comes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def common_headers(self, scope: Scope) -> dict[str, str]:
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }
        if scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = HSTS
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        common = self.common_headers(scope)
        held_start: Message | None = None
        held_body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal held_start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in common.items():
                    headers[name] = value
                if "content-security-policy" in headers:
                    await send(message)
                elif headers.get("content-type", "").startswith("text/html"):
                    held_start = message
                else:
                    headers["Content-Security-Policy"] = API_CONTENT_POLICY
                    if headers.get("content-type", "").startswith("application/json"):
                        # Answers hold a user's data: no browser or proxy keeps a copy.
                        headers.setdefault("Cache-Control", "no-store")
                    await send(message)
            elif held_start is not None and message["type"] == "http.response.body":
                held_body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    html = b"".join(held_body)
                    MutableHeaders(scope=held_start)["Content-Security-Policy"] = (
                        html_content_policy(html)
                    )
                    await send(held_start)
                    await send({"type": "http.response.body", "body": html})
            else:
                await send(message)

        await self.app(scope, receive, send_with_headers)
