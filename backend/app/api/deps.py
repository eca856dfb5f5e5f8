"""Dependencies shared by the routes, as `Annotated` aliases so signatures read plainly."""

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ApiError
from app.api.scopes import required_scopes
from app.core.config import Settings
from app.core.security import is_api_key, token_digest
from app.db.models import ApiKeyScope, LimitedAction, User
from app.db.repositories import ApiKeyRepository, UserRepository
from app.db.session import Database, UnitOfWork
from app.services.embeddings.base import EmbeddingProvider
from app.services.llm import LanguageModel, with_settings
from app.services.passage_embeddings import Embedder
from app.services.runtime_settings import RuntimeSettings
from app.services.usage_limits import admit_and_commit, released_if_unfinished

logger = logging.getLogger(__name__)


def app_database(request: Request) -> Database:
    """The database of the app, built from the settings it was built with (`create_app`)."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(app_database)]


async def get_db(request: Request) -> AsyncGenerator[AsyncSession, None]:
    """One unit of work per request: committed when the route succeeded, rolled back
    otherwise. (The request rather than DatabaseDep: one dependency fewer per request.)"""
    async with app_database(request).unit_of_work() as session:
        yield session


async def get_read_db(request: Request) -> AsyncGenerator[AsyncSession, None]:
    """A read_only() session for the request: autocommit, nothing atomic."""
    async with app_database(request).read_only() as session:
        yield session


# scope="function": the unit of work commits before the response is sent, so a failed commit
# becomes an error response instead of a success the client saw for a write that was lost.
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
# Reads and the credential check: autocommit, no transaction or pre-ping around them. Closed
# before the response is sent, so its connection serves the next request sooner.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_db, scope="function")]


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (`create_app(settings)`)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def runtime_settings_store(request: Request) -> RuntimeSettings:
    """The app's runtime settings, with their cache."""
    store: RuntimeSettings = request.app.state.runtime_settings
    return store


RuntimeSettingsStoreDep = Annotated[RuntimeSettings, Depends(runtime_settings_store)]


async def effective_settings(store: RuntimeSettingsStoreDep, session: SessionDep) -> Settings:
    """The settings with the administrators' overrides applied (read from memory in the
    steady state: app/services/runtime_settings.py). For routes whose work they tune."""
    return await store.effective(session)


RuntimeSettingsDep = Annotated[Settings, Depends(effective_settings)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A session token from `POST /api/v1/auth/login`, or an API key (`ytk_…`).",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and with which credential."""

    user: User
    token_hash: str
    api_key_id: UUID | None = None


def unauthorized(message: str = "Missing or invalid credentials.") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def current_principal(
    request: Request, session: ReadSessionDep, credentials: BearerCredentials
) -> Principal:
    return await authenticate(request, session, credentials)


async def authenticate(
    request: Request, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """Who the credentials belong to; 401 when they are missing, unknown or expired, 403 for an
    API key not scoped for this route (app/api/scopes.py)."""
    if credentials is None:
        raise unauthorized()
    digest = token_digest(credentials.credentials)
    if is_api_key(credentials.credentials):
        return await _principal_from_api_key(request, session, digest)
    user = await UserRepository(session).get_by_session_token(digest)
    if user is None:
        raise unauthorized("The session token is unknown, revoked or expired.")
    return Principal(user=user, token_hash=digest)


async def _principal_from_api_key(
    request: Request, session: AsyncSession, digest: str
) -> Principal:
    keys = ApiKeyRepository(session)
    key = await keys.get_active_by_hash(digest)
    if key is None:
        raise unauthorized("The API key is unknown, revoked or expired.")
    route = request.scope.get("route")
    # A route this app did not declare (none today) is closed to keys but the widest.
    needed = (
        required_scopes(route, request.method)
        if isinstance(route, APIRoute)
        else frozenset({ApiKeyScope.ADMIN})
    )
    if needed.isdisjoint(key.scopes):
        said = " or ".join(sorted(scope.value for scope in needed))
        raise ApiError(403, "forbidden", f"This API key is not scoped for this: it needs {said}.")
    await keys.record_use(key.id)
    user = await UserRepository(session).get_existing(key.user_id)
    return Principal(user=user, token_hash=digest, api_key_id=key.id)


async def current_user(
    request: Request, session: ReadSessionDep, credentials: BearerCredentials
) -> User:
    # Not through current_principal: one level of dependencies fewer on every request.
    return (await authenticate(request, session, credentials)).user


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "This needs an administrator.")
    return user


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(current_admin)]


def language_model(request: Request, settings: RuntimeSettingsDep) -> LanguageModel:
    """The app's language model (OpenAI-compatible when LLM_BASE_URL is set, else offline),
    with the runtime settings' model name, temperature and token limit."""
    model: LanguageModel = request.app.state.language_model
    return with_settings(model, settings)


LanguageModelDep = Annotated[LanguageModel, Depends(language_model)]


async def question_embeddings(request: Request) -> EmbeddingProvider | None:
    """The provider questions are embedded with; None when embeddings are off or the provider
    cannot be built (retrieval is then lexical)."""
    embedder: Embedder | None = getattr(request.app.state, "embedder", None)
    if embedder is None:
        return None
    try:
        return await embedder.provider()
    except Exception:
        logger.exception("the embedding provider could not be built; searching by words only")
        return None


EmbeddingsDep = Annotated[EmbeddingProvider | None, Depends(question_embeddings)]


def unit_of_work_factory(request: Request) -> UnitOfWork:
    """For work that outlives the request's own session, such as a streamed answer."""
    return app_database(request).unit_of_work


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work_factory)]


def reads_factory(request: Request) -> UnitOfWork:
    """read_only() sessions for reads that outlive the request, such as a progress stream's."""
    return app_database(request).read_only


ReadsDep = Annotated[UnitOfWork, Depends(reads_factory)]


@dataclass(frozen=True, slots=True)
class ModelWork:
    """What a route needs to have the language model write from the caller's videos (an
    answer, a draft, a video's chapters): the runtime settings, the model, the question
    embeddings, and units of work for what outlives the request's session."""

    settings: RuntimeSettingsDep
    model: LanguageModelDep
    embeddings: EmbeddingsDep
    unit_of_work: UnitOfWorkDep

    @asynccontextmanager
    async def admitted(
        self, session: AsyncSession, user_id: UUID, action: LimitedAction
    ) -> AsyncIterator[UUID | None]:
        """Count the request against the user's limits, committed before the work, and give
        the block the id of the tokens reserved for it: released when the block fails."""
        # The offline answerer spends no model's tokens: the daily limit does not hold it back.
        reservation = await admit_and_commit(
            session, user_id, action, self.settings, spends_tokens=not self.model.extractive
        )
        async with released_if_unfinished(self.unit_of_work, reservation):
            yield reservation


ModelWorkDep = Annotated[ModelWork, Depends()]
