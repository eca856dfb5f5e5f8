"""Caption files as tools write them, more loosely than SRT and WebVTT say: every cue
is read at its time, none is lost, and no timing line is read as words."""

import pytest

from app.services.captions import caption_text, parse_captions


def timed(content: str, caption_type: str) -> list[tuple[str, float, float]]:
    return [(s.text, s.start, round(s.duration, 3)) for s in parse_captions(content, caption_type)]


def test_srt_timings_without_hours_or_with_a_short_arrow_are_read() -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:04,000\nCue one.\n\n"
        "2\n00:00:05,000 -> 00:00:08,000\nCue two.\n\n"
        "3\n00:09,000 --> 00:12,5\nCue three.\n"
    )

    assert timed(srt, "srt") == [
        ("Cue one.", 1.0, 3.0),
        ("Cue two.", 5.0, 3.0),
        ("Cue three.", 9.0, 3.5),
    ]


def test_webvtt_timings_with_a_comma_keep_their_settings_and_are_read() -> None:
    vtt = (
        "WEBVTT\n\n00:00:01,000 --> 00:00:04,000 align:start\nOne.\n\n"
        "00:05.250 --> 00:08.000\nTwo.\n"
    )

    assert timed(vtt, "vtt") == [("One.", 1.0, 3.0), ("Two.", 5.25, 2.75)]


def test_two_files_joined_each_with_its_byte_order_mark_are_read_whole() -> None:
    part = "1\n00:00:01,000 --> 00:00:02,000\nFirst part.\n"
    second = "\ufeff2\n00:00:09,000 --> 00:00:10,000\nSecond part.\n"

    assert timed("\ufeff" + part + "\n" + second, "srt") == [
        ("First part.", 1.0, 1.0),
        ("Second part.", 9.0, 1.0),
    ]


def test_a_time_range_someone_said_stays_words() -> None:
    srt = "1\n00:00:01,000 --> 00:00:04,000\nThe meeting runs\n10:00 -> 11:00\n"

    assert timed(srt, "srt") == [("The meeting runs 10:00 -> 11:00", 1.0, 3.0)]


def test_only_references_ended_by_a_semicolon_are_characters() -> None:
    srt = "1\n00:00:01,000 --> 00:00:04,000\nQ&amp;A: &notes with &copy=2 &#233;t&eacute;\n"

    assert timed(srt, "srt") == [("Q&A: &notes with &copy=2 \u00e9t\u00e9", 1.0, 3.0)]


def test_a_timing_said_inside_a_cue_stays_as_said() -> None:
    srt = "1\n00:00:01,000 --> 00:00:04,000\nThe slot is\n10:00 --> 11:00\n"
    vtt = "WEBVTT\r\n\r\n00:01,000 --> 00:04,000\r\nOne.\r\n"

    assert timed(srt, "srt") == [("The slot is 10:00 --> 11:00", 1.0, 3.0)]
    assert timed(vtt, "vtt") == [("One.", 1.0, 3.0)]


def test_a_line_of_blanks_before_a_cue_ends_the_cue_before() -> None:
    vtt = (
        "\nWEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nHello\n\t\n"
        "2\n00:00:03,000 --> 00:00:04,000\nWorld\n \n00:00:05,000 --> 00:00:06,000\nAgain\n"
    )

    assert timed(vtt, "vtt") == [("Hello", 1.0, 1.0), ("World", 3.0, 1.0), ("Again", 5.0, 1.0)]


def test_only_western_european_text_is_read_as_windows_1252() -> None:
    def read(text: str, encoding: str) -> str | None:
        try:
            return caption_text(text.encode(encoding))
        except UnicodeDecodeError:
            return None

    french = "Caf\u00e9 cr\u00e8me, \u00e7a va tr\u00e8s bien \u2013 merci."
    assert read(french, "cp1252") == french
    russian = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430?"
    assert read(russian, "cp1251") is None
    assert read("Dzie\u0144 dobry, \u0142\u0105cza i b\u0119dziemy.", "cp1250") is None
    mixed = "Caf\u00e9 ".encode() + b"\xe9t\xe9"  # UTF-8 with one stray Windows-1252 word
    with pytest.raises(UnicodeDecodeError):
        caption_text(mixed)
