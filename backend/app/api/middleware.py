"""Pure ASGI middleware: request ids with the access log, and the request-body size limit.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request and streaming stays intact.
"""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import database_unavailable_response, error_response
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
    unavailable (an outage, not a bug)."""

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

        try:
            await self.app(scope, receive, send_with_request_id)
        except ClientDisconnect:
            logger.info("client disconnected during %s %s", scope["method"], scope["path"])
        except Exception as error:
            if is_database_unavailable(error):
                logger.warning(
                    "database unavailable during %s %s: %s",
                    scope["method"],
                    scope["path"],
                    type(error).__name__,
                )
                response = database_unavailable_response()
            else:
                logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
                response = error_response(500, "internal_error", "An unexpected error occurred.")
            if not response_started:
                await response(scope, receive, send_with_request_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_logger.info(
                "%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed_ms
            )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"The request body is larger than {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large()
            response = error_response(413, "payload_too_large", str(error.detail))
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
