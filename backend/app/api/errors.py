"""One error shape for every 4xx and 5xx response.

    {"error": {"code": "conflict", "message": "...", "details": [...], "request_id": "..."}}

Routes raise `ApiError` (404s through `not_found`); the error handlers and the middleware
answer with one (`ApiError(...).response()`); `error_responses` documents the statuses a route
may answer. What each exception of the framework, the data layer and the services is
answered with is in `app/api/error_handlers.py`.
"""

from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.schemas.common import ANSWERED_IN_FULL, example
from app.core.logging import request_id_var


class ErrorDetail(BaseModel):
    model_config = ANSWERED_IN_FULL

    field: str | None = Field(None, description="Where the problem is, e.g. `body.email`.")
    message: str
    type: str = Field(description="A machine-readable kind, e.g. `missing`, `string_too_long`.")


class ErrorBody(BaseModel):
    model_config = ANSWERED_IN_FULL

    code: str = Field(description="A machine-readable code, e.g. `not_found`, `conflict`.")
    message: str = Field(description="What is wrong, for a person.")
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str = Field(description="Quote it when reporting a problem.")


class ErrorResponse(BaseModel):
    model_config = ANSWERED_IN_FULL | example(
        error={
            "code": "validation_error",
            "message": "Invalid request: body.title: String should have at most 500 characters",
            "details": [
                {
                    "field": "body.title",
                    "message": "String should have at most 500 characters",
                    "type": "string_too_long",
                }
            ],
            "request_id": "5d0c2a7e9b1f4c3d8e6a0b2c4d6e8f10",
        }
    )

    error: ErrorBody


class ApiError(Exception):
    """An error in the one error shape: raised by a route on purpose, or answered at once."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers

    def response(self) -> JSONResponse:
        """The answer that carries it: its status and headers, and the one error shape with the
        request's id."""
        body = ErrorResponse(
            error=ErrorBody(
                code=self.code,
                message=self.message,
                details=self.details,
                request_id=request_id_var.get(),
            )
        )
        return JSONResponse(body.model_dump(), status_code=self.status_code, headers=self.headers)


def not_found(entity: str, key: object) -> ApiError:
    return ApiError(404, "not_found", f"{entity} {key} was not found")


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def code_for(status_code: int) -> str:
    return _CODES.get(status_code, HTTPStatus(status_code).phrase.lower().replace(" ", "_"))


DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_response() -> JSONResponse:
    return ApiError(
        503,
        "service_unavailable",
        "The database is unavailable at the moment; try again shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    ).response()


def server_stopping_response() -> JSONResponse:
    return ApiError(
        503,
        "service_unavailable",
        "The server stopped before this request was done; try again.",
        headers={"Retry-After": "1", "Connection": "close"},
    ).response()


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these statuses, all in the one error shape."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in status_codes
    }


def unreadable_body() -> JSONResponse:
    detail = ErrorDetail(
        field="body",
        message="could not be read: not UTF-8, or malformed JSON or multipart data",
        type="body_unreadable",
    )
    return ApiError(
        422, "validation_error", "The request body could not be read.", details=[detail]
    ).response()
