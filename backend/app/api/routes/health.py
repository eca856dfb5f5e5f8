import asyncio
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import DatabaseDep
from app.api.errors import DATABASE_RETRY_AFTER_SECONDS, ApiError, error_responses
from app.api.routing import api_router

# Monitors and load balancers may add parameters of their own (a cache buster): not refused.
router = api_router("", "health", signed_in=False, any_query=True)

# How long readiness waits for the database's answer: a database that hangs (rather than
# refusing) would otherwise hold the probe, and whatever waits on it, for as long as it hangs.
READINESS_SECONDS = 5.0


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok"]
    database: Literal["up"]


@router.get("/health")
async def get_health() -> Liveness:
    """Liveness: the process answers. It does not touch the database."""
    return Liveness(status="ok")


@router.get("/health/db", responses=error_responses(503))
async def get_database_health(database: DatabaseDep) -> Readiness:
    """Readiness: the database answers a query within 5 s; 503 when it does not."""
    try:
        async with asyncio.timeout(READINESS_SECONDS):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise ApiError(
            503,
            "service_unavailable",
            "The database does not answer.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        ) from error
    return Readiness(status="ok", database="up")
