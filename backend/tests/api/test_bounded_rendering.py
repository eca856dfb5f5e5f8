"""Rendering is bounded: one request cannot make a worker build gigabytes of text. Templates
hold at most 100 placeholders, a render takes at most 50 values of at most 5,000 characters, and
a text that would pass 64 KiB is refused before it is built; each 422 names the field. A render
counts against the drafts per minute."""

from typing import Any

import httpx

from app.services.rendering import (
    MAX_NAME_CHARACTERS,
    MAX_PLACEHOLDERS,
    MAX_RENDERED_CHARACTERS,
)
from tests.api.conftest import Account, ClientFactory, assert_error, sign_up

TEMPLATES = "/api/v1/templates"


async def template(client: httpx.AsyncClient, account: Account, content: str) -> httpx.Response:
    body = {"template_type": "blog", "template_name": "Mine", "template_content": content}
    return await client.post(TEMPLATES, json=body, headers=account.headers)


async def render(
    client: httpx.AsyncClient, account: Account, template_id: str, variables: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"{TEMPLATES}/{template_id}/render", json={"variables": variables}, headers=account.headers
    )


def fields(error: dict[str, Any]) -> list[str]:
    return [detail["field"] for detail in error["details"]]


async def test_a_template_with_too_many_placeholders_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    at_the_limit = await template(client, alice, "{a} " * MAX_PLACEHOLDERS)
    over = await template(client, alice, "{a}" * 6_666)  # fits in 20,000 characters

    assert at_the_limit.status_code == 201, at_the_limit.text
    error = assert_error(over, 422, "validation_error")
    assert fields(error) == ["body.template_content"]


async def test_a_placeholder_no_value_could_fill_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A render's variable names are at most 64 characters: a template naming a longer one
    would be stored, then refuse every render and draft."""
    longest = await template(client, alice, "{" + "x" * MAX_NAME_CHARACTERS + "}")
    longer = await template(client, alice, "{" + "x" * (MAX_NAME_CHARACTERS + 1) + "}")
    renamed = await client.patch(
        f"{TEMPLATES}/{longest.json()['id']}",
        json={"template_content": "{" + "y" * 300 + "}"},
        headers=alice.headers,
    )

    assert longest.status_code == 201, longest.text
    for refused in (longer, renamed):
        error = assert_error(refused, 422, "validation_error")
        assert fields(error) == ["body.template_content"]
        assert "at most 64" in error["details"][0]["message"]


async def test_values_are_bounded_in_number_and_length(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = (await template(client, alice, "{a}")).json()["id"]

    too_long = await render(client, alice, created, {"a": "x" * 5_001})
    too_many = await render(client, alice, created, {f"v{n}": "x" for n in range(51)})

    assert fields(assert_error(too_long, 422, "validation_error")) == ["body.variables.a"]
    assert fields(assert_error(too_many, 422, "validation_error")) == ["body.variables"]


async def test_a_text_past_64_kib_is_refused_before_it_is_built(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = (await template(client, alice, "{a}" * MAX_PLACEHOLDERS)).json()["id"]
    fits = "x" * (MAX_RENDERED_CHARACTERS // MAX_PLACEHOLDERS)

    rendered = await render(client, alice, created, {"a": fits})
    refused = await render(client, alice, created, {"a": fits + "x"})

    assert rendered.status_code == 200, rendered.text
    assert len(rendered.json()["text"]) <= MAX_RENDERED_CHARACTERS
    error = assert_error(refused, 422, "validation_error")
    assert fields(error) == ["body.variables"]
    assert error["details"][0]["type"] == "too_large"
    assert error["message"].startswith("The rendered text would hold ")


async def test_a_draft_whose_values_overflow_the_template_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {"template_type": "blog", "topic": "anything", "variables": {"a": "x" * 5_001}}
    refused = await client.post("/api/v1/drafts", json=body, headers=alice.headers)
    assert fields(assert_error(refused, 422, "validation_error")) == ["body.variables.a"]


async def test_renders_count_against_the_drafts_per_minute(make_client: ClientFactory) -> None:
    async with make_client(limit_drafts_per_minute=1) as client:
        account = await sign_up(client)
        created = (await template(client, account, "{a}")).json()["id"]
        first = await render(client, account, created, {"a": "one"})
        second = await render(client, account, created, {"a": "two"})

    assert first.status_code == 200, first.text
    error = assert_error(second, 429, "rate_limited")
    assert "drafts per minute: 1" in error["message"]
