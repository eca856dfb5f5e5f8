from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, or_, select, true, update

from app.db.models import Template
from app.db.repositories.base import BaseRepository
from app.db.repositories.paging import FIRST_PAGE, PageRequest, RowPage


class TemplateRepository(BaseRepository[Template]):
    """Content templates: a user's own, and the built-ins (user_id NULL) everyone shares."""

    model = Template

    @staticmethod
    def _visible_to(user_id: UUID) -> ColumnElement[bool]:
        return or_(Template.user_id == user_id, Template.user_id.is_(None))

    async def get_visible(self, template_id: UUID, user_id: UUID) -> Template | None:
        """The template if it is the user's own or a built-in, else None."""
        template = await self.get_by_id(template_id)
        if template is None or template.user_id not in (None, user_id):
            return None
        return template

    async def page_for_user(
        self,
        user_id: UUID,
        page: PageRequest = FIRST_PAGE,
        *,
        template_type: str | None = None,
    ) -> RowPage[Template]:
        """A page of the user's own templates and the built-ins (of one type, when given); own
        first, then by type and name."""
        where = [self._visible_to(user_id)]
        if template_type is not None:
            where.append(Template.template_type == template_type)
        return await self._page(
            *where,
            order_by=[Template.user_id.is_(None), Template.template_type, Template.template_name],
            page=page,
        )

    async def make_default(self, template: Template) -> Template:
        """Make this template its owner's default for its type, in place of the previous one.

        Two statements, the old default cleared first: the unique index is checked row by row,
        so doing both in one UPDATE could clash with itself. Requests making defaults of one
        owner and type take turns (an advisory lock until commit): two at once would each clear
        the old default and then clash on the index, a 409 for a legitimate request. The last
        to commit is the default.
        """
        await self.clear_default(template.user_id, template.template_type, keep=template.id)
        return await self.update(template.id, is_default=True)

    async def clear_default(
        self, user_id: UUID | None, template_type: str, *, keep: UUID | None = None
    ) -> None:
        """The owner's default of this type is one no more (but `keep`): the built-in one is
        theirs again. Taking turns with make_default()."""
        await self._lock_until_commit(f"template default:{user_id}:{template_type}")
        clear_previous = (
            update(Template)
            .where(
                Template.user_id.is_not_distinct_from(user_id),
                Template.template_type == template_type,
                Template.is_default,
                Template.id != keep if keep is not None else true(),
            )
            .values(is_default=False)
            # The session's copies of the previous default, if any, are no longer default.
            .execution_options(synchronize_session="fetch")
        )
        await self.execute(clear_previous)

    async def own_default_types(self, user_id: UUID) -> set[str]:
        """The types of which the user has a default of their own (in place of the built-in)."""
        statement = select(Template.template_type).where(
            Template.user_id == user_id, Template.is_default
        )
        return set((await self.execute(statement)).scalars())

    async def get_template(self, user_id: UUID, template_type: str) -> Template | None:
        """The user's default template of this type, else the built-in default, else None."""
        statement = (
            select(Template)
            .where(
                Template.template_type == template_type,
                Template.is_default,
                self._visible_to(user_id),
            )
            .order_by(Template.user_id.is_(None))  # the user's own (False) sorts first
            .limit(1)
        )
        return await self.first(statement)

    async def create(
        self,
        *,
        user_id: UUID | None,
        template_type: str,
        template_name: str,
        template_content: str,
        variables: list[Any] | None = None,
        is_default: bool = False,
    ) -> Template:
        """A new template (user_id None: a built-in).

        ConflictError for a name already used for this owner and type, or for a second default
        of one type; InvalidValueError for an unknown template_type.
        """
        return await self._insert(
            user_id=user_id,
            template_type=template_type,
            template_name=template_name,
            template_content=template_content,
            variables=variables or [],
            is_default=is_default,
        )
