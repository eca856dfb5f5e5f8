"""Defaults of one owner and type made at once, on real, separately committed connections:
they take turns, none is refused, and the last to commit is the one default."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from app.db.models import Template, User
from app.db.repositories import TemplateRepository, UserRepository
from app.db.session import Database
from tests.factories import make_user


@pytest.fixture
async def owner(database: Database) -> AsyncIterator[User]:
    async with database.unit_of_work() as session:
        user = await make_user(session, f"defaults-{uuid.uuid4().hex[:8]}@example.com")
    yield user
    async with database.unit_of_work() as session:
        await UserRepository(session).delete(user.id)


async def new_template(database: Database, owner: User, name: str) -> Template:
    async with database.unit_of_work() as session:
        return await TemplateRepository(session).create(
            user_id=owner.id, template_type="blog", template_name=name, template_content="x"
        )


async def test_defaults_made_at_once_take_turns(database: Database, owner: User) -> None:
    templates = [await new_template(database, owner, f"t{n}") for n in range(4)]
    first_cleared = asyncio.Event()

    async def make_default(template: Template, *, first: bool = False) -> None:
        async with database.unit_of_work() as session:
            await TemplateRepository(session).make_default(template)
            if first:
                first_cleared.set()
                await asyncio.sleep(0.3)  # uncommitted while the others start

    async def after_the_first(template: Template) -> None:
        await first_cleared.wait()
        await make_default(template)

    await asyncio.wait_for(
        asyncio.gather(
            make_default(templates[0], first=True), *map(after_the_first, templates[1:])
        ),
        timeout=30,
    )

    async with database.read_only() as session:
        defaults = (
            await session.scalars(
                select(Template.id).where(Template.user_id == owner.id, Template.is_default)
            )
        ).all()
    assert len(defaults) == 1
    assert defaults[0] in {template.id for template in templates[1:]}
