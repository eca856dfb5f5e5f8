from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, SecretStr

from app.api.schemas.common import (
    ANSWERED_IN_FULL,
    EXAMPLE_ID,
    EXAMPLE_TIME,
    OrmModel,
    RequestBody,
    example,
)


class Credentials(RequestBody):
    model_config = example(
        email="ada@example.com",
        password="correct horse battery staple",  # noqa: S106 - the documentation's example
    )

    email: EmailStr = Field(max_length=255, examples=["ada@example.com"])
    password: SecretStr = Field(examples=["correct horse battery staple"])


class Registration(Credentials):
    model_config = example(
        email="ada@example.com",
        password="correct horse battery staple",  # noqa: S106 - the documentation's example
    )

    invitation: SecretStr | None = Field(
        default=None,
        max_length=100,
        description="An administrator's invitation (`inv_…`): needed when sign-up is by "
        "invitation only.",
    )


class PasswordChange(RequestBody):
    model_config = example(
        current_password="correct horse battery staple",  # noqa: S106 - an example
        new_password="a longer and newer passphrase",  # noqa: S106 - an example
    )

    current_password: SecretStr = Field(max_length=1024)
    new_password: SecretStr


class SessionsEnded(BaseModel):
    sessions_ended: int = Field(description="How many sessions were ended.")


class RegistrationReceived(BaseModel):
    email: str = Field(description="The email as stored: trimmed and lower-cased.")
    message: str = Field(description="What to do next: log in.")


class UserPublic(OrmModel):
    model_config = example(
        id=EXAMPLE_ID, email="ada@example.com", is_admin=False, created_at=EXAMPLE_TIME
    )

    id: UUID
    email: str
    is_admin: bool
    created_at: datetime


class LoginResult(BaseModel):
    model_config = ANSWERED_IN_FULL | example(
        access_token="q3Jm0Zp7tK1xVb9LwYc2N4hR8sDfE6uA5gHjKlMnOpQ",  # noqa: S106 - an example
        token_type="bearer",  # noqa: S106 - the OAuth2 token type
        expires_at="2026-03-21T09:26:53Z",
    )

    access_token: str = Field(description="Send as `Authorization: Bearer <token>`. Shown once.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime
