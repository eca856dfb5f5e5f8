"""What captions show beside the words said (sounds in brackets, notes, the ">>" of a new
speaker, subtitle override tags) is not stored as speech; what a transcriber added in brackets
is."""

from app.services.captions import parse_captions

ANNOTATED = """1
00:00:00,000 --> 00:00:04,000
[Music]

2
00:00:04,000 --> 00:00:08,000
{\\an8}&gt;&gt; Welcome to the roof. [Applause]

3
00:00:08,000 --> 00:00:12,000
>> How much honey does one hive give?
♪ la la la ♪

4
00:00:12,000 --> 00:00:16,000
(audience laughing) About thirty kilos, said [the beekeeper].

5
00:00:16,000 --> 00:00:20,000
[CDU/CSU] [Música]
"""


def test_only_what_is_said_is_kept_and_a_cue_of_nothing_else_is_skipped() -> None:
    segments = parse_captions(ANNOTATED, "srt")

    assert [(segment.start, segment.text) for segment in segments] == [
        (4.0, "Welcome to the roof."),
        (8.0, "How much honey does one hive give? la la la"),
        (12.0, "About thirty kilos, said [the beekeeper]."),
        (16.0, "[CDU/CSU]"),
    ]
