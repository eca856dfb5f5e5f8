"""Captions made by speech recognition roll: each cue repeats the line before its new one, and
a cue of 10 ms repeats the line just finished (YouTube's, as yt-dlp saves them). Each word is
stored once, at the cue that first says it."""

from app.services.captions import parse_captions

# Each cue's blank-looking line holds a space, as in the files yt-dlp writes.
ROLLING = "\n".join(
    [
        "WEBVTT",
        "Kind: captions",
        "Language: en",
        "",
        "00:00:00.000 --> 00:00:02.350 align:start position:0%",
        " ",
        "the<00:00:00.320><c> cache</c><00:00:00.640><c> key</c><00:00:01.000><c> must</c>",
        "",
        "00:00:02.350 --> 00:00:02.360 align:start position:0%",
        "the cache key must",
        " ",
        "",
        "00:00:02.360 --> 00:00:04.950 align:start position:0%",
        "the cache key must",
        "include<00:00:02.960><c> the</c><00:00:03.200><c> user</c><00:00:03.500><c> id</c>",
        "",
        "00:00:04.950 --> 00:00:04.960 align:start position:0%",
        "include the user id",
        " ",
        "",
        "00:00:04.960 --> 00:00:07.000 align:start position:0%",
        "include the user id",
        "lesson<00:00:05.300><c> is</c><00:00:05.600><c> that</c>",
        "",
    ]
)


def test_rolling_captions_say_each_line_once_at_the_cue_that_first_says_it() -> None:
    segments = parse_captions(ROLLING, "vtt")

    assert [(s.text, s.start) for s in segments] == [
        ("the cache key must", 0.0),
        ("include the user id", 2.36),
        ("lesson is that", 4.96),
    ]


def test_a_line_said_again_in_a_cue_of_its_own_is_kept() -> None:
    repeated = (
        "1\n00:00:01,000 --> 00:00:02,000\nNo.\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nNo.\n\n"
        "3\n00:00:03,000 --> 00:00:05,000\nAbsolutely not.\nNot today.\n"
    )

    assert [s.text for s in parse_captions(repeated, "srt")] == [
        "No.",
        "No.",
        "Absolutely not. Not today.",
    ]


def test_captions_a_person_wrote_keep_a_line_said_again() -> None:
    """No flash, no rolling: a chorus sung again is said again."""
    chorus = (
        "1\n00:00:01,000 --> 00:00:03,000\nWe will, we will\nrock you\n\n"
        "2\n00:00:03,000 --> 00:00:05,000\nrock you\nsing it\n"
    )

    assert [s.text for s in parse_captions(chorus, "srt")] == [
        "We will, we will rock you",
        "rock you sing it",
    ]


def test_rolling_captions_with_windows_line_ends_are_read_alike() -> None:
    segments = parse_captions(ROLLING.replace("\n", "\r\n"), "vtt")

    assert [s.text for s in segments] == [
        "the cache key must",
        "include the user id",
        "lesson is that",
    ]
