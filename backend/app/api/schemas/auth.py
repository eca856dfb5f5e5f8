from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, SecretStr

from app.api.schemas.common import OrmModel


class Credentials(BaseModel):
    email: EmailStr = Field(max_length=255, examples=["ada@example.com"])
    password: SecretStr = Field(examples=["correct horse battery staple"])


class RegistrationReceived(BaseModel):
    email: str = Field(description="The email as stored: trimmed and lower-cased.")
    message: str = Field(description="What to do next: log in.")


class UserPublic(OrmModel):
    id: UUID
    email: str
    is_admin: bool
    created_at: datetime


class LoginResult(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`. Shown once.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime
