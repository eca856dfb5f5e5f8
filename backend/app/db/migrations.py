"""Run the Alembic migrations from code (the run command and the test fixtures use this)."""

from alembic.config import Config

from alembic import command
from app.core.config import BACKEND_DIR


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for backend/alembic.ini, aimed at `database_url`."""
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration not yet applied. Runs its own event loop: call it from a thread
    (`asyncio.to_thread`) when a loop is already running."""
    command.upgrade(alembic_config(database_url), "head")
