"""Which answer a client asked for: the event stream only when its Accept header prefers it to
JSON, as HTTP's content negotiation reads the header, not when the words merely appear in it."""

import pytest

from app.api.streaming import accepts_event_stream


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream", True),
        ("Text/Event-Stream", True),
        ("text/event-stream, application/json", True),
        ("application/json;q=0.5, text/event-stream", True),
        ("text/event-stream;q=0.9, */*;q=0.1", True),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/event-stream;q=0, application/json", False),
        ("text/event-stream;q=0", False),
        ("text/event-stream;q=0.5, application/json", False),
        ("text/event-stream;q=0.5, application/*;q=0.8", False),
        ("text/event-stream;q=oops", False),
    ],
)
def test_the_stream_is_chosen_as_content_negotiation_would(accept: str, streams: bool) -> None:
    assert accepts_event_stream(accept) is streams
