"""The answer, in the one error shape (`app/api/errors.py`), to each error a request raises.

Domain errors from the data layer are translated here, once: ConflictError and
ConcurrentUpdateError → 409,
NotFoundError → 404, InvalidValueError → 422; a limit on costly work (LimitReachedError) → 429
`rate_limited` with `Retry-After`; the stored-words quota (QuotaExceededError) → 403
`quota_exceeded`; a failed language model (LanguageModelError) → 502 `bad_gateway`. Their
messages are built from what the data layer parsed out (fields, values), never from the
database's own wording, nor from the model server's answer, which stay in the logs.
The services' refusals are translated here too (`SERVICE_ERRORS`), so that no route catches
them: a draft no video covers, a template's missing variables or oversized text, a caption
file that is not one, a webhook URL that may not be used, one endpoint too many, a delivery
sent again while still pending, a sign-up refused or throttled, a playlist or channel YouTube
would not list.
A body that cannot be read (not UTF-8, malformed JSON or multipart) is a 422, like any other
invalid input; a 405 names in `Allow` every method the path answers.
"""

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from app.api.errors import (
    ApiError,
    ErrorDetail,
    code_for,
    unreadable_body,
)
from app.api.validation import media_type_instead
from app.db.errors import ConcurrentUpdateError, ConflictError, InvalidValueError, NotFoundError
from app.services.captions import CaptionFileError
from app.services.drafts import NoSourcesError
from app.services.llm import LanguageModelError
from app.services.rendering import MissingVariablesError, RenderTooLargeError
from app.services.signup import SignupRefusedError, SignupThrottledError
from app.services.usage_limits import BeyondLimitError, LimitReachedError, QuotaExceededError
from app.services.webhooks.endpoints import TooManyEndpointsError, WebhookUrlError
from app.services.webhooks.events import DeliveryPendingError
from app.services.youtube.failures import FailureCode, FetchError
from app.services.youtube.listing import CollectionLinkError

logger = logging.getLogger(__name__)


def printable(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (a lone surrogate in a JSON key) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# What pydantic puts before the message of an error a validator raised: a reader is told what
# is wrong, not which kind of Python error said so.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _validation_details(error: RequestValidationError) -> list[ErrorDetail]:
    # The offending input is left out on purpose: it may be a password.
    return [
        ErrorDetail(
            field=printable(_field(item)) or None,
            message=printable(_message(item)),
            type=item.get("type", "value_error"),
        )
        for item in error.errors()
    ]


def _field(item: dict[str, Any]) -> str:
    """`body.title`, `query.limit`. Malformed JSON is located at a character of the body
    (`("body", 9)`), which is no field: the body is named, the position said in the message."""
    location = item.get("loc", ())
    if item.get("type") == "json_invalid":
        location = location[:1]
    return ".".join(str(part) for part in location)


def _message(item: dict[str, Any]) -> str:
    message = _without_prefix(item.get("msg", "invalid value"))
    location = item.get("loc", ())
    if item.get("type") == "json_invalid" and len(location) > 1:
        return f"{message} at character {location[1]}"
    return message


def _without_prefix(message: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    if message.startswith("Expected UploadFile"):  # Starlette's words for a text field sent
        return "must be a file, sent as a file part of the multipart body, not as text"
    return message


def _constraint_details(fields: dict[str, str], message: str, kind: str) -> list[ErrorDetail]:
    return [ErrorDetail(field=name, message=message, type=kind) for name in fields]


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error.response()


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def without_trailing_slash(request: Request) -> str | None:
    """The request's path without its trailing slash, when a route serves that one."""
    path = request.scope["path"]
    if path == "/" or not path.endswith("/"):
        return None
    scope = {**request.scope, "path": path.rstrip("/")}
    routes = request.app.router.routes
    if any(route.matches(scope)[0] is not Match.NONE for route in routes):
        return str(scope["path"])
    return None


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> str:
    """Every method some route serves on this request's path, for a 405's `Allow` header.

    Each method is tried against the routes as the router would (included routers nest theirs),
    so the answer needs no knowledge of how routes are stored."""
    allowed = [
        method
        for method in HTTP_METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(sorted(allowed))


async def _http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:
        # The framework's own 400s are all bodies it could not parse; the app raises ApiError.
        return unreadable_body()
    message = (
        error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    )
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request.app.router.routes, request.scope)
    if error.status_code == 404 and (served := without_trailing_slash(request)) is not None:
        message = f"Not Found: this path is served without its trailing slash, as {served}"
    return ApiError(
        error.status_code, code_for(error.status_code), message, headers=headers or None
    ).response()


async def _request_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    if (refused := media_type_instead(request, error)) is not None:
        wanted, sent = refused
        message = f"Send the body as Content-Type: {wanted}; this request sent {sent}."
        detail = ErrorDetail(field="body", message=message, type="unsupported_media_type")
        return ApiError(415, "unsupported_media_type", message, details=[detail]).response()
    details = _validation_details(error)
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:5])
    return ApiError(
        422, "validation_error", f"Invalid request: {summary}", details=details
    ).response()


# The columns of unique keys that a request sends, by the body's name for them (`POST
# /transcripts` sends the video as `video`). Others (the owner's id, a collection's source,
# derived from its link) were not sent, and are not named.
_REQUEST_FIELD_OF_COLUMN = {
    "youtube_video_id": "video",
    "email": "email",
    "template_type": "template_type",
    "template_name": "template_name",
    "is_default": "is_default",
}


def _sent_fields(fields: dict[str, str]) -> dict[str, str]:
    """The clashing key's values the caller sent, by the request body's names (`body.video`)."""
    return {
        f"body.{_REQUEST_FIELD_OF_COLUMN[name]}": value
        for name, value in fields.items()
        if name in _REQUEST_FIELD_OF_COLUMN
    }


def _clash(fields: dict[str, str]) -> str:
    return ", ".join(f"{name.removeprefix('body.')}={value}" for name, value in fields.items())


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConflictError)
    fields = _sent_fields(error.fields)
    clash = _clash(fields)
    details = _constraint_details(fields, "already exists", "unique")
    message = f"Already exists: {clash}" if clash else "Already exists."
    return ApiError(409, "conflict", message, details=details).response()


async def _concurrent_update(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConcurrentUpdateError)
    logger.info("ended for a concurrent transaction: %s", error.reason)
    message = (
        "Another request changed the same data at the same time; nothing was changed: try again."
    )
    return ApiError(409, "conflict", message).response()


async def _not_found(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotFoundError)
    return ApiError(404, "not_found", error.public_message()).response()


async def _invalid_value(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidValueError)
    logger.info("value refused by the database: %s", error)
    fields = _sent_fields(error.fields)
    details = _constraint_details(fields, "not accepted", "constraint")
    clash = _clash(fields)
    message = f"Value not accepted: {clash}" if clash else "A value was not accepted."
    return ApiError(422, "validation_error", message, details=details).response()


async def _limit_reached(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LimitReachedError)
    detail = ErrorDetail(field=None, message=f"{error.label}: {error.limit}", type=error.name)
    message = (
        f"Limit reached: {error.label}: {error.limit}. Try again in {error.retry_after} seconds."
    )
    headers = {"Retry-After": str(error.retry_after)}
    return ApiError(429, "rate_limited", message, details=[detail], headers=headers).response()


def _beyond_limit(error: BeyondLimitError) -> ApiError:
    """Not a 429: no wait would admit it. The request must ask for less at once."""
    detail = ErrorDetail(field=None, message=f"{error.label}: {error.limit}", type=error.name)
    message = (
        f"This counts {error.amount} at once against your {error.label} of {error.limit}: "
        f"send at most {error.limit} at a time."
    )
    return ApiError(422, "validation_error", message, details=[detail])


async def _quota_exceeded(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, QuotaExceededError)
    detail = ErrorDetail(field=None, message=f"stored words: {error.limit}", type="stored_words")
    return ApiError(403, "quota_exceeded", str(error), details=[detail]).response()


async def _language_model_failed(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LanguageModelError)
    logger.warning("the language model failed: %s", error)
    return ApiError(502, "bad_gateway", error.public_message()).response()


def _no_sources(error: NoSourcesError) -> ApiError:
    videos = "the videos chosen" if error.scoped else "your videos"
    detail = ErrorDetail(field="body.topic", message=f"not covered by {videos}", type="no_sources")
    # Scoped (transcript_ids, or a conversation's scope), another video may well cover it.
    meanwhile = " yet, but some of them are still being prepared: try again once they are ready"
    message = f"None of {videos} covers “{error.topic}”{meanwhile if error.preparing else ''}."
    return ApiError(422, "no_sources", message, details=[detail])


def _missing_variables(error: MissingVariablesError) -> ApiError:
    """Every variable the template needs and the request did not give."""
    details = [
        ErrorDetail(field=f"body.variables.{name}", message="missing", type="missing")
        for name in error.missing
    ]
    message = f"Missing variables: {', '.join(error.missing)}"
    return ApiError(422, "validation_error", message, details=details)


def _render_too_large(error: RenderTooLargeError) -> ApiError:
    """The values, which make the rendered text too long."""
    detail = ErrorDetail(field="body.variables", message=str(error), type="too_large")
    message = str(error)
    return ApiError(
        422, "validation_error", f"{message[:1].upper()}{message[1:]}.", details=[detail]
    )


def _caption_file_refused(error: CaptionFileError) -> ApiError:
    """Only an upload's file is read as captions in a request."""
    detail = ErrorDetail(field="body.file", message=str(error), type="value_error")
    return ApiError(422, "validation_error", str(error), details=[detail])


def _collection_link_refused(error: CollectionLinkError) -> ApiError:
    detail = ErrorDetail(field="body.url", message=str(error), type="value_error")
    return ApiError(422, "validation_error", f"The link is not usable: {error}", details=[detail])


def _webhook_url_refused(error: WebhookUrlError) -> ApiError:
    message = f"url {error}"
    detail = ErrorDetail(field="body.url", message=message, type="value_error")
    return ApiError(422, "validation_error", message, details=[detail])


def _conflict_in_its_words(error: TooManyEndpointsError | DeliveryPendingError) -> ApiError:
    """A refusal whose message says what is in the way (one endpoint too many, a delivery
    still pending)."""
    return ApiError(409, "conflict", str(error))


def _signup_refused(error: SignupRefusedError) -> ApiError:
    return ApiError(403, error.code, error.message)


def _signup_throttled(error: SignupThrottledError) -> ApiError:
    return ApiError(
        429,
        "too_many_requests",
        f"Too many sign-ups from this address. Try again in {error.retry_after} seconds.",
        headers={"Retry-After": str(error.retry_after)},
    )


def _listing_failed(error: FetchError) -> ApiError:
    """In a request, only a collection's listing asks YouTube (the workers fetch captions): a
    playlist or channel that does not exist (or is private) is the body's fault; a server that
    cannot reach YouTube, or an answer it cannot use, is not, however lasting."""
    if error.code is FailureCode.COLLECTION_NOT_FOUND:
        detail = ErrorDetail(field="body.url", message=error.reason, type=error.code)
        return ApiError(422, "validation_error", error.message, details=[detail])
    return ApiError(502, "bad_gateway", f"YouTube could not list the videos: {error.reason}.")


# Each service error, and the answer it gets.
SERVICE_ERRORS: dict[type[Exception], Callable[[Any], ApiError]] = {
    NoSourcesError: _no_sources,
    MissingVariablesError: _missing_variables,
    RenderTooLargeError: _render_too_large,
    CaptionFileError: _caption_file_refused,
    WebhookUrlError: _webhook_url_refused,
    TooManyEndpointsError: _conflict_in_its_words,
    DeliveryPendingError: _conflict_in_its_words,
    SignupRefusedError: _signup_refused,
    SignupThrottledError: _signup_throttled,
    FetchError: _listing_failed,
    BeyondLimitError: _beyond_limit,
    CollectionLinkError: _collection_link_refused,
}


def _answered_as(
    translate: Callable[[Any], ApiError],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, error: Exception) -> JSONResponse:
        return await _api_error(request, translate(error))

    return handler


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(ConcurrentUpdateError, _concurrent_update)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(InvalidValueError, _invalid_value)
    app.add_exception_handler(LimitReachedError, _limit_reached)
    app.add_exception_handler(QuotaExceededError, _quota_exceeded)
    app.add_exception_handler(LanguageModelError, _language_model_failed)
    for kind, translate in SERVICE_ERRORS.items():
        app.add_exception_handler(kind, _answered_as(translate))
