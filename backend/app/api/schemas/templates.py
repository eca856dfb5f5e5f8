from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.api.schemas.common import OrmModel, example

TemplateType = Literal["linkedin", "twitter", "blog", "email"]


class TemplateCreate(BaseModel):
    model_config = example(
        template_type="linkedin",
        template_name="Short and warm",
        template_content="Write a LinkedIn post about {topic} in a {tone} tone.\n\n{sources}",
        is_default=True,
    )

    template_type: TemplateType
    template_name: str = Field(min_length=1, max_length=255)
    template_content: str = Field(
        min_length=1,
        max_length=20_000,
        description="Text with `{variable}` placeholders; `{{` and `}}` are literal braces.",
    )
    is_default: bool = False


class TemplateUpdate(BaseModel):
    model_config = example(template_name="Short, warm and to the point")

    template_name: str | None = Field(default=None, min_length=1, max_length=255)
    template_content: str | None = Field(default=None, min_length=1, max_length=20_000)


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


class RenderRequest(BaseModel):
    model_config = example(variables={"topic": "sourdough starters", "tone": "playful"})

    variables: dict[str, str] = Field(default_factory=dict)


class RenderResult(BaseModel):
    text: str
