import logging

import pytest

from app.core.logging import RequestIdFilter, configure_logging, request_id_var


def test_every_record_carries_the_current_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token = request_id_var.set("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert record.request_id == "req-42"  # type: ignore[attr-defined]


def test_configure_logging_formats_with_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("info")
        token = request_id_var.set("req-7")
        logging.getLogger("app.test").info("something happened")
        request_id_var.reset(token)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert "[req-7] something happened" in capsys.readouterr().err
