from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.api.schemas.common import OrmModel, RequestBody, example
from app.services.rendering import (
    MAX_NAME_CHARACTERS,
    MAX_PLACEHOLDERS,
    MAX_VALUE_CHARACTERS,
    MAX_VARIABLES,
    placeholder_count,
    placeholders,
)


def _fillable_placeholders(content: str) -> str:
    if (count := placeholder_count(content)) > MAX_PLACEHOLDERS:
        raise ValueError(f"holds {count} placeholders; at most {MAX_PLACEHOLDERS} are allowed")
    if too_long := [name for name in placeholders(content) if len(name) > MAX_NAME_CHARACTERS]:
        raise ValueError(
            f"names a variable of {len(too_long[0])} characters; at most {MAX_NAME_CHARACTERS} "
            "are allowed, or no value could ever fill it"
        )
    return content


TemplateContent = Annotated[
    str,
    Field(
        min_length=1,
        max_length=20_000,
        description="Text with `{variable}` placeholders; `{{` and `}}` are literal braces. "
        f"At most {MAX_PLACEHOLDERS} placeholders, repeats included, each naming at most "
        f"{MAX_NAME_CHARACTERS} characters.",
    ),
    AfterValidator(_fillable_placeholders),
]
# Values for a template's placeholders: each is repeated at every placeholder naming it, so
# both their number and their length are bounded (and the rendered text, when rendering).
TemplateVariables = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARACTERS)],
        Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARACTERS)],
    ],
    Field(max_length=MAX_VARIABLES),
]

TemplateType = Literal["linkedin", "twitter", "blog", "email"]


class TemplateCreate(RequestBody):
    model_config = example(
        template_type="linkedin",
        template_name="Short and warm",
        template_content="Write a LinkedIn post about {topic} in a {tone} tone.\n\n{sources}",
        is_default=True,
    )

    template_type: TemplateType
    template_name: str = Field(min_length=1, max_length=255)
    template_content: TemplateContent
    is_default: bool = Field(default=False, strict=True)


class TemplateUpdate(RequestBody):
    model_config = example(template_name="Short, warm and to the point")

    template_name: str | None = Field(default=None, min_length=1, max_length=255)
    template_content: TemplateContent | None = None


class TemplatePublic(OrmModel):
    id: UUID
    user_id: UUID | None = Field(description="null for a built-in template.")
    template_type: TemplateType
    template_name: str
    template_content: str
    variables: list[str]
    is_default: bool
    created_at: datetime
    updated_at: datetime


class RenderRequest(RequestBody):
    model_config = example(variables={"topic": "sourdough starters", "tone": "playful"})

    variables: TemplateVariables = Field(default_factory=dict)


class RenderResult(BaseModel):
    text: str
