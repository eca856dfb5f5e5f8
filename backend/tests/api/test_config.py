"""Runtime settings through the API: validation of every key, overrides, their history, and the
work they tune (chat, search, the language model, chunking)."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.core.runtime_settings import RUNTIME_SETTINGS, RuntimeSetting
from app.db.repositories import ConfigRepository, UserRepository
from app.services.chunking import count_tokens
from app.services.llm import OpenAICompatibleModel
from testkit.labelled_set import CHUNK_TOKENS
from testkit.llm_server import FakeLLM, serving
from tests.api.conftest import Account, ClientFactory, assert_error, sign_up
from tests.api.talks import ingest_talks, talking_to
from tests.fakes import ScriptedModel

CONFIG = "/api/v1/config"
OVEN_QUESTION = "How hot should the oven be for the sourdough?"


async def make_admin(session: AsyncSession, account: Account) -> Account:
    await UserRepository(session).set_admin(account.email)
    await session.commit()  # as the grant-admin command does
    return account


@pytest.fixture
async def admin(alice: Account, session: AsyncSession) -> Account:
    return await make_admin(session, alice)


async def put_setting(
    client: httpx.AsyncClient, admin: Account, key: str, value: Any
) -> dict[str, Any]:
    response = await client.put(f"{CONFIG}/{key}", json={"value": value}, headers=admin.headers)
    assert response.status_code == 200, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def history(client: httpx.AsyncClient, admin: Account, key: str) -> list[dict[str, Any]]:
    response = await client.get(f"{CONFIG}/{key}/history", headers=admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_override_is_listed_recorded_and_removed(
    client: httpx.AsyncClient, admin: Account
) -> None:
    default = get_settings().chat_context_chunks

    entry = await put_setting(client, admin, "chat_context_chunks", default + 3)
    assert entry["value"] == entry["override"] == default + 3
    assert entry["source"] == "override"
    assert entry["default"] == default
    assert entry["value_schema"] == {"type": "integer", "minimum": 1, "maximum": 50}
    await put_setting(client, admin, "chat_context_chunks", default + 1)

    listing = (await client.get(CONFIG, headers=admin.headers)).json()
    assert [item["key"] for item in listing["items"]] == list(RUNTIME_SETTINGS)
    by_key = {item["key"]: item for item in listing["items"]}
    assert by_key["chat_context_chunks"]["value"] == default + 1
    assert by_key["llm_temperature"]["source"] == "default"
    assert all(item["description"] for item in listing["items"])
    changes = await history(client, admin, "chat_context_chunks")
    assert [(c["old_value"], c["new_value"]) for c in changes] == [
        (default + 3, default + 1),
        (None, default + 3),
    ]
    assert {c["changed_by"] for c in changes} == {admin.id}

    assert (
        await client.delete(f"{CONFIG}/chat_context_chunks", headers=admin.headers)
    ).status_code == 204
    fetched = (await client.get(f"{CONFIG}/chat_context_chunks", headers=admin.headers)).json()
    assert (fetched["value"], fetched["source"], fetched["override"]) == (default, "default", None)
    latest = (await history(client, admin, "chat_context_chunks"))[0]
    assert (latest["old_value"], latest["new_value"]) == (default + 1, None)
    assert_error(
        await client.delete(f"{CONFIG}/chat_context_chunks", headers=admin.headers),
        404,
        "not_found",
    )


async def test_a_value_from_the_environment_says_so(
    make_client: ClientFactory, session: AsyncSession
) -> None:
    async with make_client(chat_history_messages=3) as client:
        admin = await make_admin(session, await sign_up(client))
        entry = (await client.get(f"{CONFIG}/chat_history_messages", headers=admin.headers)).json()
    assert (entry["value"], entry["default"], entry["source"]) == (3, 3, "environment")


def out_of_bounds(schema: dict[str, Any]) -> list[Any]:
    """Values just outside each bound the JSON Schema states."""
    values: list[Any] = []
    if "minimum" in schema:
        values.append(schema["minimum"] - 1)
    if "exclusiveMinimum" in schema:
        values.append(schema["exclusiveMinimum"])
    if "maximum" in schema:
        values.append(schema["maximum"] + 1)
    if "exclusiveMaximum" in schema:
        values.append(schema["exclusiveMaximum"])
    if schema.get("minLength", 0) > 0:
        values.append("x" * (schema["minLength"] - 1))
    if "maxLength" in schema:
        values.append("x" * (schema["maxLength"] + 1))
    if "enum" in schema:
        values.append("x".join(schema["enum"]))  # a word that is none of them
    return values


def wrong_types(schema: dict[str, Any]) -> list[Any]:
    if schema["type"] == "string":
        return [8, None, ["a"]]
    return ["8", True, None, {"value": 8}]


def assert_refused(response: httpx.Response, key: str, field: str) -> None:
    error = assert_error(response, 422, "validation_error")
    assert key in error["message"]
    assert [detail["field"] for detail in error["details"]] == [field]
    assert key in error["details"][0]["message"]


@pytest.mark.parametrize("setting", RUNTIME_SETTINGS.values(), ids=list(RUNTIME_SETTINGS))
async def test_every_setting_takes_its_type_within_its_bounds(
    client: httpx.AsyncClient, admin: Account, setting: RuntimeSetting
) -> None:
    schema = setting.json_schema()
    path = f"{CONFIG}/{setting.name}"
    assert out_of_bounds(schema), "every runtime setting has a bound"

    for value in wrong_types(schema) + out_of_bounds(schema):
        response = await client.put(path, json={"value": value}, headers=admin.headers)
        assert_refused(response, setting.name, "body.value")
    assert await history(client, admin, setting.name) == []  # refused changes leave no trace

    valid = setting.started_with(get_settings())
    entry = await put_setting(client, admin, setting.name, valid)
    assert (entry["value"], entry["source"]) == (valid, "override")


async def test_an_unknown_key_is_refused_naming_it(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await client.put(
        f"{CONFIG}/chat_context_chunk", json={"value": 8}, headers=admin.headers
    )
    assert_refused(response, "chat_context_chunk", "path.key")
    for path in (f"{CONFIG}/chat_context_chunk", f"{CONFIG}/chat_context_chunk/history"):
        assert_error(await client.get(path, headers=admin.headers), 404, "not_found")


async def test_keys_stored_before_are_listed_as_ignored_and_can_be_deleted(
    client: httpx.AsyncClient, admin: Account, session: AsyncSession
) -> None:
    await ConfigRepository(session).set_value("llm.defaults", {"model": "old"}, "from before")
    await ConfigRepository(session).set_value("chat_context_chunks", "8")  # a string, from before

    listing = (await client.get(CONFIG, headers=admin.headers)).json()
    by_key = {item["key"]: item for item in listing["items"]}
    assert listing["items"][-1]["key"] == "llm.defaults"
    assert by_key["llm.defaults"]["source"] == "ignored"
    assert by_key["llm.defaults"]["value"] == {"model": "old"}
    # The stored string does not fit: the default stays in effect and the override is shown.
    assert by_key["chat_context_chunks"]["source"] == "default"
    assert by_key["chat_context_chunks"]["override"] == "8"

    assert (await client.delete(f"{CONFIG}/llm.defaults", headers=admin.headers)).status_code == 204
    changes = await history(client, admin, "llm.defaults")
    assert [(c["old_value"], c["new_value"]) for c in changes] == [({"model": "old"}, None)]
    assert_error(
        await client.get(f"{CONFIG}/llm.defaults", headers=admin.headers), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", CONFIG, None),
        ("GET", f"{CONFIG}/chat_context_chunks", None),
        ("GET", f"{CONFIG}/chat_context_chunks/history", None),
        ("PUT", f"{CONFIG}/chat_context_chunks", {"value": 1}),
        ("DELETE", f"{CONFIG}/chat_context_chunks", None),
    ],
)
async def test_ordinary_users_are_forbidden(
    client: httpx.AsyncClient, bob: Account, method: str, path: str, payload: dict[str, int] | None
) -> None:
    response = await client.request(method, path, json=payload, headers=bob.headers)
    assert_error(response, 403, "forbidden")
    assert_error(await client.request(method, path, json=payload), 401, "unauthorized")


async def test_bad_keys_and_bodies_are_422(client: httpx.AsyncClient, admin: Account) -> None:
    assert_error(
        await client.put(f"{CONFIG}/bad key!", json={"value": 1}, headers=admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(f"{CONFIG}/{'k' * 101}", json={"value": 1}, headers=admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(f"{CONFIG}/chat_context_chunks", json={}, headers=admin.headers),
        422,
        "validation_error",
    )


def excerpt_numbers(model: ScriptedModel) -> list[int]:
    """The numbers of the excerpts in the last prompt the model received."""
    system = model.prompts[-1][0].content
    return [int(n) for n in re.findall(r"^\[(\d+)\] ", system, re.MULTILINE)]


async def test_the_next_answer_uses_as_many_excerpts_as_set(session: AsyncSession) -> None:
    model = ScriptedModel()
    async with talking_to(session, model, chat_context_chunks=5) as (client, account):
        admin = await make_admin(session, account)
        conversation = (
            await client.post("/api/v1/conversations", json={}, headers=admin.headers)
        ).json()["id"]

        async def ask() -> None:
            response = await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"content": "how many minutes"},
                headers=admin.headers,
            )
            assert response.status_code == 201, response.text

        await ask()
        before = excerpt_numbers(model)
        await put_setting(client, admin, "chat_context_chunks", 1)
        await ask()
        after = excerpt_numbers(model)
        await put_setting(client, admin, "chat_context_chunks", 3)
        await ask()
        then = excerpt_numbers(model)

    assert before == [1, 2, 3, 4, 5]
    assert after == [1]
    assert then == [1, 2, 3]


@pytest.fixture
async def talks_client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client(chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2)


async def test_searches_follow_the_runtime_settings(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        admin = await make_admin(session, await sign_up(client))
        await ingest_talks(client, admin)

        async def search() -> dict[str, Any]:
            response = await client.get(
                "/api/v1/search", params={"q": OVEN_QUESTION}, headers=admin.headers
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        before = await search()
        await put_setting(client, admin, "search_default_limit", 1)
        one = await search()
        await put_setting(client, admin, "answer_min_similarity", 1.0)
        await put_setting(client, admin, "answer_min_coverage", 1.0)
        declined = await search()

    assert before["answerable"]
    assert len(before["hits"]) > 1
    assert one["answerable"]
    assert len(one["hits"]) == 1
    assert not declined["answerable"]
    assert declined["hits"] == []  # nothing holds every word of the question


async def test_new_transcripts_are_chunked_as_set(
    client: httpx.AsyncClient, admin: Account
) -> None:
    words = " ".join(f"word{i}" for i in range(600))

    async def chunk_count(video: str) -> int:
        response = await client.post(
            "/api/v1/transcripts",
            json={"video": video, "transcript_text": words},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
        count: int = response.json()["chunk_count"]
        return count

    before = await chunk_count("aaaaaaaaaaa")
    await put_setting(client, admin, "chunk_tokens", 100)
    await put_setting(client, admin, "chunk_overlap", 0.0)
    smaller = await chunk_count("bbbbbbbbbbb")
    for key in ("chunk_tokens", "chunk_overlap"):
        await client.delete(f"{CONFIG}/{key}", headers=admin.headers)
    again = await chunk_count("ccccccccccc")

    tokens = count_tokens(words, get_settings().tokenizer_encoding)
    assert smaller == -(-tokens // 100)  # 100 tokens a chunk, none repeated
    assert before == again < smaller


async def test_the_language_model_is_called_as_set(session: AsyncSession) -> None:
    llm = FakeLLM()
    async with serving(llm) as base_url:
        settings = get_settings().model_copy(
            update={"llm_base_url": base_url, "llm_api_key": None, "llm_retry_base_seconds": 0}
        )
        model = OpenAICompatibleModel(settings)
        try:
            async with talking_to(session, model) as (client, account):
                admin = await make_admin(session, account)
                await put_setting(client, admin, "llm_model", "other-model")
                await put_setting(client, admin, "llm_temperature", 0.9)
                await put_setting(client, admin, "llm_max_tokens", 123)
                conversation = (
                    await client.post("/api/v1/conversations", json={}, headers=admin.headers)
                ).json()["id"]
                response = await client.post(
                    f"/api/v1/conversations/{conversation}/messages",
                    json={"content": OVEN_QUESTION},
                    headers=admin.headers,
                )
        finally:
            await model.aclose()

    assert response.status_code == 201, response.text
    sent = llm.requests[-1]
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("other-model", 0.9, 123)
    assert response.json()["assistant_message"]["metadata"]["model"] == "other-model"
