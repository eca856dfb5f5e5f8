from app.api.deps import CurrentUser, SessionDep
from app.api.errors import error_responses
from app.api.owned import OwnedJob
from app.api.routing import api_router
from app.api.schemas.common import Page, Paging, page_of
from app.api.schemas.jobs import JobPublic
from app.db.models import Job
from app.db.repositories import JobRepository

router = api_router("/jobs", "jobs")


@router.get("")
async def list_jobs(user: CurrentUser, session: SessionDep, paging: Paging) -> Page[JobPublic]:
    """The caller's background jobs (ingest and embed), newest first."""
    page = await JobRepository(session).page_for_user(user.id, paging)
    return page_of(JobPublic, page)


@router.get("/{job_id:uuid}", response_model=JobPublic, responses=error_responses(404))
async def get_job(job: OwnedJob) -> Job:
    """One job: queued → running → done (with its transcript_id) or failed (with the reason)."""
    return job
