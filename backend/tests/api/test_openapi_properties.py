"""A bounded property-based run over the OpenAPI document (schemathesis on hypothesis).

For every operation, requests are generated from the document (valid ones, and invalid ones
that must be refused) and sent in-process, on the test's rolled-back session, by an
administrator holding an API key (so that logging out cannot end the run). Every answer must
be in the document: no 5xx, a documented status, content type and body, and no error message
in the database's own words. The examples are derived from a fixed seed: a run is repeatable.
"""

import os
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import api_key_prefix, new_api_key, token_digest
from app.db.models import ApiKeyScope
from app.db.repositories import ApiKeyRepository, UserRepository
from app.main import create_app
from tests.api.conftest import driver_wording_in
from tests.factories import make_user

# A few per operation keep `make test` quick; PROPERTY_EXAMPLES=200 runs deeper.
EXAMPLES_PER_OPERATION = int(os.environ.get("PROPERTY_EXAMPLES", "6"))

SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations() if isinstance(result, Ok)]


def takes_input(operation: Any) -> bool:
    """Whether there is anything to send wrong (negative data needs a parameter or a body)."""
    return bool(list(operation.iter_parameters()) or list(operation.body))


RUNS = [
    pytest.param(operation, mode, id=f"{operation.label} {mode.value}")
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or takes_input(operation)
]


def no_driver_wording(_: CheckContext, response: Any, case: Any) -> bool | None:
    if response.status_code >= 400:
        wording = driver_wording_in(response.json())
        if wording:
            raise Failure(operation=case.operation.label, title="Database wording", message=wording)
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
async def admin_headers(session: AsyncSession) -> dict[str, str]:
    admin = await make_user(session)
    await UserRepository(session).set_admin(admin.email)
    key = new_api_key()
    await ApiKeyRepository(session).create(
        user_id=admin.id,
        name="property run",
        key_prefix=api_key_prefix(key),
        key_hash=token_digest(key),
        scopes=list(ApiKeyScope),
    )
    return {"Authorization": f"Bearer {key}"}


def as_sent(case: Case[Any], headers: dict[str, str]) -> dict[str, Any]:
    """httpx arguments for the case. schemathesis prepares it for `requests`, whose encoder
    accepts the odd multipart parts it generates; httpx then sends those bytes unchanged."""
    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
    request = requests.Request(**kwargs).prepare()
    return {
        "method": request.method,
        "url": request.url,
        "headers": {name: str(value) for name, value in request.headers.items()},
        "content": request.body,
    }


@pytest.mark.slow
@pytest.mark.parametrize(("operation", "mode"), RUNS)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # One client and one administrator per operation, shared by its examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_answer_is_in_the_document(
    operation: Any,
    mode: GenerationMode,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    data: st.DataObject,
) -> None:
    case = data.draw(operation.as_strategy(generation_mode=mode))
    response = await client.request(**as_sent(case, admin_headers))
    case.validate_response(response, checks=CHECKS, additional_checks=[no_driver_wording])
