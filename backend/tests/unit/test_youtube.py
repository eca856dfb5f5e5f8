import pytest

from app.services.youtube.links import parse_video_id, watch_url


@pytest.mark.parametrize(
    "value",
    [
        "dQw4w9WgXcQ",
        " dQw4w9WgXcQ ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "http://youtube.com/watch?app=desktop&v=dQw4w9WgXcQ&list=PL1",
        "www.youtube.com/watch?v=dQw4w9WgXcQ#t=10",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
        "https://youtu.be/dQw4w9WgXcQ",
        "youtu.be/dQw4w9WgXcQ?t=30",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ?feature=share",
        "https://www.youtube.com/embed/dQw4w9WgXcQ?start=5",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ",
        "https://www.youtube.com/v/dQw4w9WgXcQ",
    ],
)
def test_every_common_form_gives_the_id(value: str) -> None:
    assert parse_video_id(value) == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://vimeo.com/12345", "not a YouTube"),
        ("https://www.youtube.com/watch?v=tooShort", "no video id"),
        ("https://www.youtube.com/channel/UC123", "no video id"),
        ("https://youtu.be/", "no video id"),
        ("hello world", "not a YouTube"),
    ],
)
def test_anything_else_is_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_video_id(value)


def test_watch_url_with_and_without_a_timestamp() -> None:
    assert watch_url("dQw4w9WgXcQ") == "https://youtu.be/dQw4w9WgXcQ"
    assert watch_url("dQw4w9WgXcQ", 125.9) == "https://youtu.be/dQw4w9WgXcQ?t=125"


@pytest.mark.parametrize(
    "link",
    [
        "https://www.youtube.com/playlist?list=PL590L5WQmH8fJ54F369BLDSqIwcs-TCfs",
        "https://www.youtube.com/@PostgresConference",
        "https://www.youtube.com/channel/UCsT0YIqwnpJCM-mx7-gSA4Q",
    ],
)
def test_a_playlist_or_channel_given_as_a_video_points_to_collections(link: str) -> None:
    with pytest.raises(ValueError, match=r"POST /collections"):
        parse_video_id(link)


def test_a_watch_link_without_its_id_says_only_that() -> None:
    with pytest.raises(ValueError, match=r"no video id found in '[^']*'$"):
        parse_video_id("https://www.youtube.com/watch?v=short")
