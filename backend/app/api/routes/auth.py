from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from app.api.deps import (
    CurrentPrincipal,
    CurrentUser,
    Principal,
    RuntimeSettingsDep,
    SessionDep,
    SettingsDep,
    UnitOfWorkDep,
)
from app.api.errors import ApiError, ErrorDetail, error_responses
from app.api.routing import api_router
from app.api.schemas.auth import (
    Credentials,
    LoginResult,
    PasswordChange,
    Registration,
    RegistrationReceived,
    SessionsEnded,
    UserPublic,
)
from app.core.config import Settings
from app.core.security import (
    dummy_password_hash,
    hash_password,
    new_session_token,
    token_digest,
    verify_password,
)
from app.db.errors import NotFoundError
from app.db.models import User
from app.db.repositories import InvitationRepository, SessionRepository, UserRepository
from app.db.repositories.user import normalise_email
from app.services import signup
from app.services.login_throttle import LoginAttempt, LoginThrottle

router = api_router("/auth", "auth", signed_in=False)

INVALID_LOGIN = "The email or password is incorrect."


def check_password_rules(password: str, settings: Settings, field: str = "body.password") -> None:
    problem = None
    if len(password) < settings.password_min_length:
        problem = f"must be at least {settings.password_min_length} characters"
    elif len(password) > settings.password_max_length:
        problem = f"must be at most {settings.password_max_length} characters"
    elif not password.strip():
        problem = "must not be only spaces"
    if problem:
        detail = ErrorDetail(field=field, message=problem, type="password_rules")
        raise ApiError(422, "validation_error", f"The password {problem}.", details=[detail])


REGISTERED = "If this email was free, the account now exists: log in with the password."


def client_host(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/register", status_code=202, responses=error_responses(403, 422, 429))
async def register(
    body: Registration,
    request: Request,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    unit_of_work: UnitOfWorkDep,
) -> RegistrationReceived:
    """Create an account, then log in. A taken email gets the very same answer (and the
    password is hashed all the same), so registering cannot tell who has an account; nothing
    is changed for an email that is taken.

    Refused before any password is hashed: 403 when sign-up is closed or needs an invitation
    (`SIGNUP_MODE`), 429 with `Retry-After` past the sign-ups one address may make per hour.
    """
    password = body.password.get_secret_value()
    check_password_rules(password, settings)
    invitation_token = body.invitation.get_secret_value() if body.invitation else None
    email = normalise_email(str(body.email))
    signup.check_mode(settings, invitation_token)
    await signup.count_signup(settings, unit_of_work, client_host(request))
    invitation = (
        None
        if invitation_token is None
        else await signup.take_invitation(session, invitation_token, email)
    )
    created = await UserRepository(session).create_unless_taken(
        email=email, password_hash=await hash_password(password)
    )
    if created is not None and invitation is not None:
        await InvitationRepository(session).mark_accepted(invitation.id)
    return RegistrationReceived(email=email, message=REGISTERED)


def too_many_attempts(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_requests",
        f"Too many wrong passwords. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


@router.post("/login", responses=error_responses(401, 422, 429))
async def login(
    body: Credentials,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    unit_of_work: UnitOfWorkDep,
) -> LoginResult:
    """Exchange email and password for a bearer token.

    Unknown email and wrong password get the same answer. Repeated failures for one email or
    from one client are slowed down with 429 and `Retry-After` (see the README's "Login
    throttling").
    """
    attempt = LoginAttempt.of(str(body.email), client_host(request))
    throttle = LoginThrottle(settings, unit_of_work)
    wait = await throttle.admit(attempt)
    if wait is not None:
        raise too_many_attempts(wait)

    user = await UserRepository(session).get_by_email(attempt.email)
    password = body.password.get_secret_value()
    stored_hash = user.password_hash if user else await dummy_password_hash()
    if not await verify_password(stored_hash, password) or user is None:
        await throttle.record_failure(attempt)
        raise ApiError(401, "unauthorized", INVALID_LOGIN)
    # The password may have changed while it was checked: a change ends every other session,
    # and must end this one too. The row is locked against a change until the session is
    # stored (a change under way finishes first, and then this password is no longer it), and
    # before the throttle's rows, in the order a password change takes them (no deadlock).
    try:
        still = await UserRepository(session).lock(user.id, shared=True)
    except NotFoundError:  # the account was deleted meanwhile
        still = None
    if still is None or still.password_hash != stored_hash:
        raise ApiError(401, "unauthorized", INVALID_LOGIN)

    await throttle.record_success(session, attempt)
    return await open_session(session, user, settings)


async def open_session(session: SessionDep, user: User, settings: Settings) -> LoginResult:
    sessions = SessionRepository(session)
    await sessions.delete_expired()
    token = new_session_token()
    expires_at = datetime.now(UTC) + timedelta(hours=settings.session_ttl_hours)
    await sessions.create(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at)
    return LoginResult(access_token=token, expires_at=expires_at)


@router.post("/logout", status_code=204, responses=error_responses(401, 403))
async def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Revoke the session token used for this request (403 for an API key, as every act that
    needs a session token: revoke a key with DELETE /api-keys/{id})."""
    session_only(principal, "Signing out (an API key is revoked with DELETE /api-keys/{id})")
    await SessionRepository(session).delete_by_token(principal.token_hash)
    return Response(status_code=204)


@router.get("/me", response_model=UserPublic, responses=error_responses(401, 403))
async def get_me(user: CurrentUser) -> User:
    """The account the credentials belong to."""
    return user


def session_only(principal: Principal, action: str) -> None:
    """Some acts need the password's own session: a leaked API key must not do them."""
    if principal.api_key_id is not None:
        raise ApiError(403, "forbidden", f"{action} needs a session token, not an API key.")


@router.post("/password", responses=error_responses(401, 403, 422, 429))
async def change_password(
    body: PasswordChange,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    unit_of_work: UnitOfWorkDep,
) -> SessionsEnded:
    """Change the password, given the current one. Every other session of the account ends;
    the one making the change stays signed in. API keys are not touched (revoke them with
    `DELETE /api-keys/{id}`).

    Wrong current passwords are counted and slowed down as failed logins are (429 with
    `Retry-After`): a stolen session token must not become a way to guess the password."""
    session_only(principal, "Changing the password")
    new_password = body.new_password.get_secret_value()
    check_password_rules(new_password, settings, field="body.new_password")
    attempt = LoginAttempt.of(principal.user.email, client_host(request))
    throttle = LoginThrottle(settings, unit_of_work)
    if (wait := await throttle.admit(attempt)) is not None:
        raise too_many_attempts(wait)
    # Locked: of two changes at once, the second checks its current password against the
    # password the first has set, instead of both passing and one silently undoing the other.
    user = await UserRepository(session).lock(principal.user.id)
    if not await verify_password(user.password_hash, body.current_password.get_secret_value()):
        await throttle.record_failure(attempt)
        detail = ErrorDetail(
            field="body.current_password", message="is not the current password", type="invalid"
        )
        raise ApiError(
            422, "validation_error", "The current password is not right.", details=[detail]
        )
    await throttle.record_success(session, attempt)
    await UserRepository(session).update(user.id, password_hash=await hash_password(new_password))
    ended = await SessionRepository(session).delete_for_user(user.id, keep=principal.token_hash)
    return SessionsEnded(sessions_ended=ended)


@router.post("/logout-everywhere", responses=error_responses(401, 403))
async def logout_everywhere(principal: CurrentPrincipal, session: SessionDep) -> SessionsEnded:
    """End every session of the account, this one included: each device must log in again.
    API keys are not touched (revoke them with `DELETE /api-keys/{id}`)."""
    session_only(principal, "Signing out everywhere")
    ended = await SessionRepository(session).delete_for_user(principal.user.id)
    return SessionsEnded(sessions_ended=ended)
