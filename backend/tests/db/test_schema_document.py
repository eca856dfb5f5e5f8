"""DATABASE_SCHEMA.md keeps up with the migrations and the models."""

import re

from app.core.config import BACKEND_DIR
from app.db.models import Base

SCHEMA_DOCUMENT = BACKEND_DIR.parent / "DATABASE_SCHEMA.md"
VERSIONS = BACKEND_DIR / "alembic" / "versions"


def test_every_migration_has_its_row() -> None:
    text = SCHEMA_DOCUMENT.read_text(encoding="utf-8")
    rows = set(
        re.findall(r"^\| `\d{4}` \| [^|]+ \| `backend/alembic/versions/([^`]+)`", text, re.M)
    )
    assert rows == {path.name for path in VERSIONS.glob("[0-9]*.py")}


def test_every_table_has_its_section() -> None:
    text = SCHEMA_DOCUMENT.read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\w+)$", text, re.MULTILINE))
    assert set(Base.metadata.tables) <= sections
