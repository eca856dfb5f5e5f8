"""The history a prompt shows: each question followed by its own answer, roles taking turns."""

import uuid
from datetime import UTC, datetime
from typing import Any

from app.db.repositories.message import MessageRow
from app.services.chat import exchanges

CONVERSATION = uuid.uuid4()


def message(role: str, content: str, **meta: Any) -> MessageRow:
    return MessageRow(uuid.uuid4(), CONVERSATION, role, content, meta, datetime.now(UTC))


def said(history: list[MessageRow]) -> list[str]:
    return [m.content for m in exchanges(history)]


def test_questions_asked_at_once_are_each_followed_by_their_own_answer() -> None:
    first, second = message("user", "Q1"), message("user", "Q2")
    history = [
        first,
        second,
        message("assistant", "A2", reply_to=str(second.id)),
        message("assistant", "A1", reply_to=str(first.id)),
    ]

    assert said(history) == ["Q1", "A1", "Q2", "A2"]


def test_an_unanswered_question_is_left_out() -> None:
    answered = message("user", "Q2")
    history = [
        message("user", "Q1 (its answer failed)"),
        answered,
        message("assistant", "A2", reply_to=str(answered.id)),
    ]

    assert said(history) == ["Q2", "A2"]


def test_a_saved_draft_follows_the_request_that_made_it() -> None:
    """ "Shorten the draft above" has the draft to shorten, and the roles still take turns."""
    draft = message(
        "assistant", "A LinkedIn post", kind="draft", template_type="linkedin", topic="indexes"
    )

    assert said([message("user", "Q1"), draft]) == [
        "Write a linkedin draft about: indexes",
        "A LinkedIn post",
    ]
    assert [m.role for m in exchanges([draft])] == ["user", "assistant"]


def test_an_answer_stored_before_answers_named_their_question_follows_its_own() -> None:
    history = [message("user", "Q1"), message("assistant", "A1"), message("user", "Q2")]

    assert said(history) == ["Q1", "A1"]
