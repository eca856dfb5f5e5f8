"""Administrators' invitations to sign up, for a server whose `SIGNUP_MODE` is `invitation`."""

from uuid import UUID

from fastapi import Response

from app.api.deps import AdminUser, RuntimeSettingsDep, SessionDep
from app.api.errors import error_responses, not_found
from app.api.routing import api_router
from app.api.schemas.common import LongPaging, Page, page_of
from app.api.schemas.invitations import InvitationCreate, InvitationCreated, InvitationPublic
from app.db.repositories import InvitationRepository
from app.db.repositories.user import normalise_email
from app.services.signup import invite

router = api_router("/invitations", "invitations")


@router.post("", status_code=201)
async def create_invitation(
    body: InvitationCreate, admin: AdminUser, session: SessionDep, settings: RuntimeSettingsDep
) -> InvitationCreated:
    """An invitation to sign up, valid once until `expires_at` (`INVITATION_TTL_HOURS`). The
    token is in this response only."""
    email = None if body.email is None else normalise_email(str(body.email))
    created = await invite(session, admin.id, email, settings)
    public = InvitationPublic.model_validate(created.invitation)
    return InvitationCreated(**public.model_dump(), token=created.token)


@router.get("")
async def list_invitations(
    _: AdminUser, session: SessionDep, paging: LongPaging
) -> Page[InvitationPublic]:
    """Every invitation, newest first, accepted and expired ones included."""
    page = await InvitationRepository(session).page_all(paging)
    return page_of(InvitationPublic, page)


@router.delete("/{invitation_id:uuid}", status_code=204, responses=error_responses(404))
async def delete_invitation(invitation_id: UUID, _: AdminUser, session: SessionDep) -> Response:
    """Withdraw an invitation: it admits no one from now on."""
    if not await InvitationRepository(session).delete(invitation_id):
        raise not_found("Invitation", invitation_id)
    return Response(status_code=204)
