from typing import Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.api.schemas.common import DistinctIds, RequestBody, ShortText, example
from app.api.schemas.conversations import Citation, TokenUsage
from app.api.schemas.templates import TemplateType, TemplateVariables


class DraftRequest(RequestBody):
    model_config = example(
        template_type="linkedin", topic="keeping a sourdough starter alive", tone="playful"
    )

    template_type: TemplateType | None = Field(
        default=None, description="Use your default template of this type (else the built-in)."
    )
    template_id: UUID | None = Field(default=None, description="Or name a template.")
    topic: ShortText
    tone: str = Field(default="clear and friendly", min_length=1, max_length=100)
    transcript_ids: DistinctIds | None = Field(default=None, max_length=50)
    variables: TemplateVariables = Field(
        default_factory=dict, description="Values for any other placeholders of the template."
    )
    conversation_id: UUID | None = Field(
        default=None, description="Also save the draft in this conversation."
    )

    @model_validator(mode="after")
    def _one_template(self) -> Self:
        if (self.template_type is None) == (self.template_id is None):
            raise ValueError("give exactly one of template_type and template_id")
        return self


class DraftResult(BaseModel):
    text: str
    template_id: UUID
    template_type: TemplateType
    prompt: str = Field(description="The template as rendered and sent to the language model.")
    sources: list[Citation]
    provider: str
    model: str
    usage: TokenUsage
    message_id: UUID | None = Field(description="The saved message, when a conversation was given.")
