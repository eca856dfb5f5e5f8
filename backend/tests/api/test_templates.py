import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import Account, assert_error

TEMPLATES = "/api/v1/templates"


async def create(client: httpx.AsyncClient, account: Account, **body: Any) -> httpx.Response:
    payload = {
        "template_type": "linkedin",
        "template_name": "My post",
        "template_content": "About {topic}, in a {tone} voice. {{not a variable}}",
        **body,
    }
    return await client.post(TEMPLATES, json=payload, headers=account.headers)


async def test_the_four_builtins_are_listed_for_everyone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    page = (await client.get(TEMPLATES, headers=alice.headers)).json()

    builtins = [t for t in page["items"] if t["user_id"] is None]
    assert sorted(t["template_type"] for t in builtins) == ["blog", "email", "linkedin", "twitter"]
    assert all(t["is_default"] for t in builtins)
    assert page["total"] == 4


async def test_create_lists_own_first_and_derives_variables(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await create(client, alice)
    assert created.status_code == 201, created.text
    assert created.json()["variables"] == ["topic", "tone"]
    assert created.json()["is_default"] is False

    mine = (
        await client.get(TEMPLATES, params={"template_type": "linkedin"}, headers=alice.headers)
    ).json()
    assert [t["template_name"] for t in mine["items"]] == ["My post", "Built-in linkedin"]
    theirs = (await client.get(TEMPLATES, headers=bob.headers)).json()
    assert all(t["user_id"] is None for t in theirs["items"])


async def test_render_fills_variables_and_names_every_missing_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    template_id = (await create(client, alice)).json()["id"]
    url = f"{TEMPLATES}/{template_id}/render"

    rendered = await client.post(
        url, json={"variables": {"topic": "PostgreSQL", "tone": "calm"}}, headers=alice.headers
    )
    assert rendered.json() == {"text": "About PostgreSQL, in a calm voice. {not a variable}"}

    missing = await client.post(url, json={"variables": {}}, headers=alice.headers)
    error = assert_error(missing, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["body.variables.topic", "body.variables.tone"]
    assert "topic" in error["message"]
    assert "tone" in error["message"]


async def test_builtins_render_but_are_read_only(client: httpx.AsyncClient, alice: Account) -> None:
    builtin = next(
        t
        for t in (await client.get(TEMPLATES, headers=alice.headers)).json()["items"]
        if t["template_type"] == "email"
    )
    url = f"{TEMPLATES}/{builtin['id']}"
    variables = {"topic": "t", "tone": "warm", "key_points": "- a", "sources": "- s"}

    rendered = await client.post(
        f"{url}/render", json={"variables": variables}, headers=alice.headers
    )
    assert rendered.status_code == 200
    assert "warm" in rendered.json()["text"]
    assert_error(
        await client.patch(url, json={"template_name": "x"}, headers=alice.headers),
        403,
        "forbidden",
    )
    assert_error(await client.delete(url, headers=alice.headers), 403, "forbidden")


async def test_update_and_delete_own(client: httpx.AsyncClient, alice: Account) -> None:
    template_id = (await create(client, alice)).json()["id"]
    url = f"{TEMPLATES}/{template_id}"

    updated = await client.patch(
        url, json={"template_content": "Only {audience}"}, headers=alice.headers
    )
    assert updated.json()["variables"] == ["audience"]
    assert updated.json()["template_name"] == "My post"

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")


async def test_one_default_per_type_and_it_overrides_the_builtin(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = (await create(client, alice, template_name="first", is_default=True)).json()
    second = (await create(client, alice, template_name="second")).json()
    assert first["is_default"] is True

    made = await client.post(f"{TEMPLATES}/{second['id']}/default", headers=alice.headers)
    assert made.json()["is_default"] is True

    first_now = (await client.get(f"{TEMPLATES}/{first['id']}", headers=alice.headers)).json()
    assert first_now["is_default"] is False
    third = (await create(client, alice, template_name="third", is_default=True)).json()
    second_now = (await client.get(f"{TEMPLATES}/{second['id']}", headers=alice.headers)).json()
    assert third["is_default"] is True
    assert second_now["is_default"] is False


async def test_duplicate_name_is_409_and_bad_type_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert (await create(client, alice)).status_code == 201
    duplicate = await create(client, alice)
    assert_error(duplicate, 409, "conflict")
    # The clash names what the caller sent, not the owner's id the key also holds.
    error = duplicate.json()["error"]
    fields = {detail["field"] for detail in error["details"]}
    assert fields == {"body.template_type", "body.template_name"}
    assert "user_id" not in error["message"]
    assert alice.id not in error["message"]
    assert_error(await create(client, alice, template_type="tiktok"), 422, "validation_error")
    assert_error(await create(client, alice, template_content=""), 422, "validation_error")


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("GET", "", None),
        ("PATCH", "", {"template_name": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/default", None),
        ("POST", "/render", {"variables": {"topic": "x", "tone": "y"}}),
    ],
)
async def test_another_users_template_answers_404(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    method: str,
    suffix: str,
    payload: dict[str, Any] | None,
) -> None:
    template_id = (await create(client, alice)).json()["id"]

    foreign = await client.request(
        method, f"{TEMPLATES}/{template_id}{suffix}", json=payload, headers=bob.headers
    )
    missing = await client.request(
        method, f"{TEMPLATES}/{uuid.uuid4()}{suffix}", json=payload, headers=bob.headers
    )

    assert_error(foreign, 404, "not_found")
    assert_error(missing, 404, "not_found")


async def test_the_builtin_template_is_made_ones_default_again(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Choosing it is not editing it: one's own default of the type stops being one, and
    drafts of the type use the built-in one again."""
    own = (await create(client, alice, template_name="mine", is_default=True)).json()
    listed = (await client.get(TEMPLATES, params={"limit": 100}, headers=alice.headers)).json()
    builtin = next(
        t
        for t in listed["items"]
        if t["user_id"] is None and t["template_type"] == own["template_type"]
    )

    builtin_url = f"{TEMPLATES}/{builtin['id']}"
    builtin_while_own = (await client.get(builtin_url, headers=alice.headers)).json()
    made = await client.post(f"{builtin_url}/default", headers=alice.headers)
    own_now = (await client.get(f"{TEMPLATES}/{own['id']}", headers=alice.headers)).json()
    builtin_now = (await client.get(builtin_url, headers=alice.headers)).json()

    # One default per type as the caller sees it: the built-in one only without their own.
    assert (builtin["is_default"], builtin_while_own["is_default"]) == (False, False)
    assert made.status_code == 200, made.text
    assert made.json()["id"] == builtin["id"]
    assert made.json()["is_default"] is True
    assert own_now["is_default"] is False
    assert builtin_now["is_default"] is True
