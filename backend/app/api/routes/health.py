from typing import Literal

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db.session import get_engine

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["up", "down"]


@router.get(
    "/health",
    response_model=HealthStatus,
    responses={503: {"model": HealthStatus, "description": "The database does not answer."}},
)
async def health() -> HealthStatus | JSONResponse:
    """The service is up and its database answers a query."""
    try:
        async with get_engine().connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        down = HealthStatus(status="unavailable", database="down")
        return JSONResponse(down.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return HealthStatus(status="ok", database="up")
