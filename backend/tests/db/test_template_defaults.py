"""Defaults of one owner and type made at once, on real, separately committed connections:
they take turns, none is refused, and the last to commit is the one default."""

import asyncio

from sqlalchemy import select

from app.db.models import Template, User
from app.db.repositories import TemplateRepository
from app.db.repositories.paging import PageRequest
from app.db.session import Database


async def new_template(database: Database, committed_user: User, name: str) -> Template:
    async with database.unit_of_work() as session:
        return await TemplateRepository(session).create(
            user_id=committed_user.id,
            template_type="blog",
            template_name=name,
            template_content="x",
        )


async def test_defaults_made_at_once_take_turns(database: Database, committed_user: User) -> None:
    templates = [await new_template(database, committed_user, f"t{n}") for n in range(4)]
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
                select(Template.id).where(
                    Template.user_id == committed_user.id, Template.is_default
                )
            )
        ).all()
    assert len(defaults) == 1
    assert defaults[0] in {template.id for template in templates[1:]}


async def test_the_sessions_copies_follow_a_new_default(
    database: Database, committed_user: User
) -> None:
    """Within one unit of work, the template that was the default reads as it is stored."""
    async with database.unit_of_work() as session:
        templates = TemplateRepository(session)
        first = await templates.create(
            user_id=committed_user.id,
            template_type="blog",
            template_name="first",
            template_content="x",
            is_default=True,
        )
        second = await templates.create(
            user_id=committed_user.id,
            template_type="blog",
            template_name="second",
            template_content="x",
        )
        await templates.make_default(second)
        page = await templates.page_for_user(committed_user.id, PageRequest(10))

    assert first.is_default is False
    assert [t.template_name for t in page.rows if t.is_default and t.user_id] == ["second"]
