import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, InvalidValueError
from app.db.models import TEMPLATE_TYPES, Template
from app.db.repositories import ConfigRepository, TemplateRepository
from tests.factories import make_user


async def make_builtin(
    session: AsyncSession, template_type: str, name: str, *, default: bool
) -> Template:
    return await TemplateRepository(session).create(
        user_id=None,
        template_type=template_type,
        template_name=name,
        template_content="Write about {topic}",
        variables=["topic"],
        is_default=default,
    )


async def test_the_migrations_seed_one_builtin_default_per_type(session: AsyncSession) -> None:
    user = await make_user(session)
    templates = TemplateRepository(session)
    for template_type in TEMPLATE_TYPES:
        builtin = await templates.get_template(user.id, template_type)
        assert builtin is not None
        assert builtin.user_id is None
        assert builtin.is_default
        assert "{topic}" in builtin.template_content


async def test_users_default_wins_over_the_builtin(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    templates = TemplateRepository(session)
    builtin = await templates.get_template(other.id, "linkedin")
    own = await templates.create(
        user_id=user.id,
        template_type="linkedin",
        template_name="mine",
        template_content="{topic}!",
        variables=["topic"],
        is_default=True,
    )

    assert await templates.get_template(user.id, "linkedin") is own
    assert await templates.get_template(other.id, "linkedin") is builtin
    assert own.variables == ["topic"]


async def test_a_non_default_template_is_not_picked(session: AsyncSession) -> None:
    user = await make_user(session)
    templates = TemplateRepository(session)
    await templates.create(
        user_id=user.id, template_type="email", template_name="draft", template_content="x"
    )
    picked = await templates.get_template(user.id, "email")
    assert picked is not None
    assert picked.user_id is None  # the built-in default, not the user's non-default draft


async def test_make_default_moves_the_default(session: AsyncSession) -> None:
    user = await make_user(session)
    templates = TemplateRepository(session)
    first = await templates.create(
        user_id=user.id,
        template_type="blog",
        template_name="a",
        template_content="x",
        is_default=True,
    )
    first_id = first.id
    second = await templates.create(
        user_id=user.id, template_type="blog", template_name="b", template_content="y"
    )

    user_id, second_id = user.id, second.id

    await templates.make_default(second)
    session.expire_all()

    assert (await templates.get_template(user_id, "blog")).id == second_id  # type: ignore[union-attr]
    assert (await templates.get_existing(first_id)).is_default is False


async def test_list_for_user_shows_own_then_builtins_never_others(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    templates = TemplateRepository(session)
    await templates.create(
        user_id=user.id, template_type="twitter", template_name="mine", template_content="x"
    )
    await templates.create(
        user_id=other.id, template_type="twitter", template_name="theirs", template_content="x"
    )

    listed = (await templates.page_for_user(user.id, template_type="twitter")).rows

    assert [(t.template_name, t.user_id) for t in listed] == [
        ("mine", user.id),
        ("Built-in twitter", None),
    ]
    assert (await templates.page_for_user(user.id)).total == 1 + len(TEMPLATE_TYPES)
    assert await templates.get_visible(listed[0].id, other.id) is None
    assert await templates.get_visible(listed[1].id, other.id) is listed[1]


async def test_at_most_one_default_per_owner_and_type(session: AsyncSession) -> None:
    user = await make_user(session)
    templates = TemplateRepository(session)
    await templates.create(
        user_id=user.id,
        template_type="blog",
        template_name="one",
        template_content="x",
        is_default=True,
    )
    with pytest.raises(ConflictError) as caught:
        await templates.create(
            user_id=user.id,
            template_type="blog",
            template_name="two",
            template_content="y",
            is_default=True,
        )
    assert caught.value.constraint == "uq_templates_one_default_per_owner_type"


async def test_builtins_also_have_a_single_default_per_type(session: AsyncSession) -> None:
    # The seeded built-in twitter template is already the default.
    with pytest.raises(ConflictError, match="uq_templates_one_default_per_owner_type"):
        await make_builtin(session, "twitter", "builtin b", default=True)


async def test_defaults_of_other_owners_or_types_do_not_clash(session: AsyncSession) -> None:
    first, second = await make_user(session), await make_user(session)
    templates = TemplateRepository(session)
    for user in (first, second):
        for template_type in ("blog", "email"):
            await templates.create(
                user_id=user.id,
                template_type=template_type,
                template_name="default",
                template_content="x",
                is_default=True,
            )
    assert (await templates.get_template(second.id, "email")).user_id == second.id  # type: ignore[union-attr]


async def test_template_names_are_unique_per_owner_and_type(session: AsyncSession) -> None:
    user = await make_user(session)
    templates = TemplateRepository(session)
    await templates.create(
        user_id=user.id, template_type="blog", template_name="same", template_content="x"
    )
    await templates.create(
        user_id=user.id, template_type="email", template_name="same", template_content="x"
    )
    with pytest.raises(ConflictError, match="template_name") as caught:
        await templates.create(
            user_id=user.id, template_type="blog", template_name="same", template_content="y"
        )
    assert caught.value.fields["template_name"] == "same"


async def test_builtin_names_are_unique_too(session: AsyncSession) -> None:
    await make_builtin(session, "email", "shared name", default=False)
    with pytest.raises(ConflictError, match="template_name"):
        await make_builtin(session, "email", "shared name", default=False)


async def test_unknown_template_type_is_refused(session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError, match="ck_templates_template_type_allowed"):
        await TemplateRepository(session).create(
            user_id=None, template_type="tiktok", template_name="x", template_content="x"
        )


async def test_config_get_set_and_upsert(session: AsyncSession) -> None:
    config = ConfigRepository(session)
    assert await config.get_value("chat.max_history") is None

    first = await config.set_value("chat.max_history", 10, "Messages fed to the prompt")
    first_updated_at = first.updated_at
    second = await config.set_value("chat.max_history", {"n": 12, "by": ["ü", None]})

    assert second.key == "chat.max_history"
    assert await config.get_value("chat.max_history") == {"n": 12, "by": ["ü", None]}
    assert second.description == "Messages fed to the prompt"  # None keeps the description
    assert second.updated_at > first_updated_at
    third = await config.set_value("chat.max_history", [1, 2], "new words")
    assert third.description == "new words"
    assert await config.count() >= 1
