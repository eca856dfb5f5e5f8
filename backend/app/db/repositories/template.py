from typing import Any
from uuid import UUID

from sqlalchemy import or_, select

from app.db.models import Template
from app.db.repositories.base import BaseRepository


class TemplateRepository(BaseRepository[Template]):
    """Content templates: a user's own, and the built-ins (user_id NULL) everyone shares."""

    model = Template

    async def get_template(self, user_id: UUID, template_type: str) -> Template | None:
        """The user's default template of this type, else the built-in default, else None."""
        statement = (
            select(Template)
            .where(
                Template.template_type == template_type,
                Template.is_default,
                or_(Template.user_id == user_id, Template.user_id.is_(None)),
            )
            .order_by(Template.user_id.is_(None))  # the user's own (False) sorts first
            .limit(1)
        )
        rows = await self.scalars(statement)
        return rows[0] if rows else None

    async def create_template(
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
        return await self.create(
            user_id=user_id,
            template_type=template_type,
            template_name=template_name,
            template_content=template_content,
            variables=variables or [],
            is_default=is_default,
        )
