"""Checks every request goes through at the edge, whatever its route: values PostgreSQL cannot
store are refused here, with the field named, instead of deep inside a query.

PostgreSQL text and JSONB refuse NUL characters; a lone UTF-16 surrogate (`"\\ud800"` in JSON)
cannot even be encoded as UTF-8; JSONB refuses NaN and Infinity, which Python's JSON parser
accepts. One app-wide dependency (`refuse_unstorable_values`) looks at the path and query
parameters and at the parsed body, so every route, present and future, is covered without each
schema having to remember.
"""

import json
import re
from collections.abc import Iterator

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from app.core.stored_values import PROBLEMS, Location, text_problem, value_problems

# In raw JSON these characters only arrive as `\u0000` / `\udXXX` escapes, as raw surrogate
# bytes (Python's decoder lets them through) or, for NUL, in a UTF-16/32 body; non-finite
# numbers as the words NaN and Infinity, or as a number too large for a float, which Python
# reads as infinity (`1e999`: an exponent of three digits, or a run of 300 digits). A body with
# none of these needs no walk.
_SUSPICIOUS_JSON = re.compile(
    rb"\\u(?:0000|[dD][89a-fA-F])|\x00|\xed[\xa0-\xbf]|NaN|Infinity|[eE][+-]?\d{3}|\d{300}",
    re.ASCII,
)


def parameter_problems(request: Request) -> Iterator[tuple[Location, str]]:
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            yield ("path", name), problem
    for name, value in request.query_params.multi_items():
        name_problem = text_problem(name)
        if name_problem:
            yield ("query",), name_problem
        elif problem := text_problem(value):
            yield ("query", name), problem


async def body_problems(request: Request) -> list[tuple[Location, str]]:
    """Problems in the body the route has already read (a JSON document or a form)."""
    route = request.scope.get("route")
    body_field = route.body_field if isinstance(route, APIRoute) else None
    if body_field is None:
        return []
    if isinstance(body_field.field_info, Form):
        form = await request.form()  # parsed once by the route, cached on the request
        return [
            problem
            for name, value in form.multi_items()
            if not isinstance(value, UploadFile)
            for problem in value_problems({name: value}, ("body",))
        ]
    raw = await request.body()  # read once by the route, cached on the request
    if not _SUSPICIOUS_JSON.search(raw):
        return []
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return []  # not JSON: the route's own validation refuses it
    return list(value_problems(document, ("body",)))


async def refuse_unstorable_values(request: Request) -> None:
    """422 naming every field that holds a NUL, a lone surrogate or a non-finite number."""
    problems = [*parameter_problems(request), *await body_problems(request)]
    if problems:
        raise RequestValidationError(
            [{"loc": where, "msg": PROBLEMS[kind], "type": kind} for where, kind in problems]
        )


# How pydantic refuses a whole body that is not a JSON object, as FastAPI hands on the body of
# a request whose Content-Type does not say JSON: unparsed.
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type"})


def says_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def media_type_instead(request: Request, error: RequestValidationError) -> tuple[str, str] | None:
    """The media type the route reads and the Content-Type the request sent instead ("none"
    when it sent none), when that is why its body was refused; None for any other input."""
    content_type = request.headers.get("content-type", "")
    sent = content_type.split(";", 1)[0].strip() or "none"
    route = request.scope.get("route")
    body_field = route.body_field if isinstance(route, APIRoute) else None
    if body_field is not None and isinstance(body_field.field_info, Form):
        # A form's fields are all "missing" from a body that is no form (JSON, say).
        if sent.lower() in _FORM_TYPES:
            return None
        missing = all(item.get("type") == "missing" for item in error.errors())
        return ("multipart/form-data", sent) if missing else None
    whole_body_refused = any(
        tuple(item.get("loc", ())) == ("body",) and item.get("type") in _NOT_AN_OBJECT
        for item in error.errors()
    )
    if not whole_body_refused or says_json(content_type):
        return None
    return "application/json", sent


_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
