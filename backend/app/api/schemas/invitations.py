from datetime import datetime
from uuid import UUID

from pydantic import EmailStr, Field

from app.api.schemas.common import EXAMPLE_ID, EXAMPLE_TIME, OrmModel, RequestBody, example


class InvitationCreate(RequestBody):
    model_config = example(email="grace@example.com")

    email: EmailStr | None = Field(
        default=None,
        max_length=255,
        description="The only email the invitation admits; any email when left out.",
    )


EXAMPLE_INVITATION = {
    "id": EXAMPLE_ID,
    "email": "grace@example.com",
    "created_at": EXAMPLE_TIME,
    "expires_at": EXAMPLE_TIME,
    "accepted_at": None,
}


class InvitationPublic(OrmModel):
    model_config = example(**EXAMPLE_INVITATION)

    id: UUID
    email: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationCreated(InvitationPublic):
    model_config = example(
        **EXAMPLE_INVITATION,
        token="inv_Zp7tK1xVb9LwYc2N4hR8sDfE6uA5gHjKlMnOpQq3Jm0",  # noqa: S106 - an example
    )

    token: str = Field(
        description="Give it to the person invited, who signs up with it as `invitation`. "
        "Shown only in this response."
    )
