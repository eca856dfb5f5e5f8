import asyncio
from typing import Annotated

from fastapi import Query, Response

from app.api.deps import CurrentUser, RuntimeSettingsDep, SessionDep
from app.api.errors import ApiError, error_responses
from app.api.owned import OwnedTemplate, VisibleTemplate, deleted
from app.api.routing import Locate, api_router
from app.api.schemas.common import LongPaging, Page, page_of
from app.api.schemas.templates import (
    RenderRequest,
    RenderResult,
    TemplateCreate,
    TemplatePublic,
    TemplateType,
    TemplateUpdate,
)
from app.db.models import LimitedAction, Template
from app.db.repositories import TemplateRepository
from app.services.rendering import placeholders, render
from app.services.usage_limits import admit_and_commit

router = api_router("/templates", "templates")


@router.get("")
async def list_templates(
    user: CurrentUser,
    session: SessionDep,
    paging: LongPaging,
    template_type: Annotated[TemplateType | None, Query()] = None,
) -> Page[TemplatePublic]:
    """The caller's own templates, then the built-ins."""
    templates = TemplateRepository(session)
    page = await templates.page_for_user(user.id, paging, template_type=template_type)
    listed = page_of(TemplatePublic, page)
    if not any(map(is_builtin_default, listed.items)):
        return listed
    own_defaults = await templates.own_default_types(user.id)
    return listed.model_copy(
        update={"items": [as_seen_by(item, own_defaults) for item in listed.items]}
    )


def is_builtin_default(template: TemplatePublic) -> bool:
    return template.user_id is None and template.is_default


def as_seen_by(template: TemplatePublic, own_defaults: set[str]) -> TemplatePublic:
    """A built-in default is the caller's default only while they have none of their own for
    its type: one default per type, as drafts use it."""
    if is_builtin_default(template) and template.template_type in own_defaults:
        return template.model_copy(update={"is_default": False})
    return template


@router.post("", status_code=201, response_model=TemplatePublic, responses=error_responses(409))
async def create_template(
    body: TemplateCreate, user: CurrentUser, session: SessionDep, locate: Locate
) -> Template:
    """A new template; its variables are the `{placeholders}` in its content. With
    `is_default`, it replaces the caller's previous default of that type."""
    templates = TemplateRepository(session)
    template = await templates.create(
        user_id=user.id,
        template_type=body.template_type,
        template_name=body.template_name,
        template_content=body.template_content,
        variables=placeholders(body.template_content),
    )
    if body.is_default:
        template = await templates.make_default(template)
    locate("get_template", template_id=template.id)
    return template


@router.get("/{template_id:uuid}", responses=error_responses(404))
async def get_template(
    template: VisibleTemplate, user: CurrentUser, session: SessionDep
) -> TemplatePublic:
    public = TemplatePublic.model_validate(template)
    if not is_builtin_default(public):  # the caller's own, or a built-in that is no default
        return public
    own_defaults = await TemplateRepository(session).own_default_types(user.id)
    return as_seen_by(public, own_defaults)


@router.patch(
    "/{template_id:uuid}", response_model=TemplatePublic, responses=error_responses(403, 404, 409)
)
async def update_template(
    template: OwnedTemplate, body: TemplateUpdate, session: SessionDep
) -> Template:
    """Rename or rewrite one of the caller's templates."""
    changes = body.model_dump(exclude_none=True)
    if "template_content" in changes:
        changes["variables"] = placeholders(changes["template_content"])
    return await TemplateRepository(session).update(template.id, **changes)


@router.delete("/{template_id:uuid}", status_code=204, responses=error_responses(403, 404))
async def delete_template(template: OwnedTemplate, session: SessionDep) -> Response:
    return deleted(await TemplateRepository(session).delete(template.id), "Template", template.id)


@router.post(
    "/{template_id:uuid}/default",
    response_model=TemplatePublic,
    responses=error_responses(403, 404),
)
async def make_default_template(
    template: VisibleTemplate, user: CurrentUser, session: SessionDep
) -> Template:
    """Make this the caller's default of its type; the previous default stops being one. The
    built-in template of a type is made the default again by giving up one's own (403 for a
    built-in one that is not its type's default)."""
    templates = TemplateRepository(session)
    if template.user_id is not None:
        return await templates.make_default(template)
    if not template.is_default:
        raise ApiError(403, "forbidden", "Only a type's built-in default can be made yours.")
    await templates.clear_default(user.id, template.template_type)
    return template


@router.post("/{template_id:uuid}/render", responses=error_responses(404, 429))
async def render_template(
    template: VisibleTemplate,
    body: RenderRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> RenderResult:
    """The template filled with `variables`; 422 naming every missing variable, or the values
    when the text would pass 64 KiB. Each render counts against the drafts per minute."""
    # Counted as a draft, but reserves no tokens: no language model runs.
    await admit_and_commit(session, user.id, LimitedAction.DRAFT, settings, spends_tokens=False)
    text = await asyncio.to_thread(render, template.template_content, body.variables)
    return RenderResult(text=text)
