"""SRT and WebVTT caption files into timed segments (parsed by webvtt-py).

Cues are returned in order of their start, whatever their order in the file; a cue that ends
before it starts, or later than any video, is refused with its number, and cues without text
are skipped.
"""

import codecs
import html
import io
import re

import webvtt
from webvtt.errors import MalformedFileError
from webvtt.models import Timestamp

from app.services.chunking import MAX_SECONDS, Segment

CAPTION_FORMATS = ("srt", "vtt")


class CaptionFileError(ValueError):
    """The file is not a caption file of the announced format."""


# A timing line as caption tools write it, more loosely than the formats say: hours left out,
# a comma or a dot before the milliseconds, 1 to 3 of them, "->" for "-->"; cue settings after.
_LOOSE_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_LOOSE_TIMING = re.compile(
    rf"^[ \t]*{_LOOSE_TIME}[ \t]*(-->|->)[ \t]*{_LOOSE_TIME}((?:[ \t]+[\w-]+:\S+)*)[ \t]*$",
    re.MULTILINE,
)


# A character reference, ended by its semicolon: HTML's older names without one ("&not",
# "&copy") would read "&notes" as "¬es" and "&copy=2" as "©=2".
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _unescaped(text: str) -> str:
    return _REFERENCE.sub(lambda reference: html.unescape(reference.group(0)), text)


_WEBVTT_LINE = re.compile(r"\A\s*webvtt", re.IGNORECASE)


def _tidied(content: str, caption_type: str) -> str:
    """Without byte-order marks (a file made of two joined ones has one mid-file), and as its
    format is written: SRT without blank lines before the first cue or spaces at line ends
    ("1 " for a cue number), WebVTT with its header in capitals."""
    content = content.replace("\ufeff", "")
    if caption_type == "srt":
        return "\n".join(line.rstrip() for line in content.strip().splitlines()) + "\n"
    # Not in WebVTT: a line of one space is a line of text, as speech-recognition cues have.
    return _WEBVTT_LINE.sub("WEBVTT", content, count=1)


def _timings_as_written_by_the_book(content: str, caption_type: str) -> str:
    """Each timing line rewritten as its format writes it (`00:01:02,500 --> …` in SRT, a dot
    in WebVTT), cue settings kept. webvtt-py reads only those: a looser line was either a
    refused file, or text of the cue before and a cue lost. A line with "->" must give
    milliseconds to be read as timing ("10:00 -> 11:00" may be what someone said)."""
    separator = "," if caption_type == "srt" else "."

    def stamp(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> str:
        milliseconds = (fraction or "0").ljust(3, "0")
        return f"{int(hours or 0):02d}:{minutes.zfill(2)}:{seconds}{separator}{milliseconds}"

    def rewritten(line: re.Match[str]) -> str:
        times = line.groups()
        start, arrow, end, settings = times[0:4], times[4], times[5:9], times[9]
        if arrow == "->" and (start[3] is None or end[3] is None):
            return line.group(0)
        return f"{stamp(*start)} --> {stamp(*end)}{settings}"

    return _LOOSE_TIMING.sub(rewritten, content)


def _seconds(timestamp: Timestamp) -> float:
    # webvtt-py's *_in_seconds properties drop the milliseconds: keep them.
    hours, minutes, seconds, milliseconds = timestamp.to_tuple()
    return hours * 3600 + minutes * 60 + seconds + milliseconds / 1000


def caption_format(content: str) -> str:
    """ "vtt" when the file starts as WebVTT says it must (its WEBVTT line, in any case), else
    "srt": an SRT file saved under a .vtt name is still SRT."""
    return "vtt" if content.lstrip("\ufeff").upper().startswith("WEBVTT") else "srt"


def caption_text(raw: bytes) -> str:
    """The file's text: UTF-8 (a byte-order mark or not), UTF-16 with its byte-order mark, or,
    when it is not UTF-8, Windows-1252, in which Windows tools save Western captions.
    UnicodeDecodeError when it is none of them."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")  # refuses the five bytes it leaves undefined


def parse_captions(content: str, caption_type: str) -> list[Segment]:
    """The cues of an SRT or WebVTT file as segments sorted by start; CaptionFileError when the
    file is malformed, a cue ends before it starts, or no cue has text."""
    content = _timings_as_written_by_the_book(_tidied(content, caption_type), caption_type)
    try:
        captions = webvtt.from_buffer(io.StringIO(content), format=caption_type)
    except (MalformedFileError, ValueError, IndexError) as error:
        raise CaptionFileError(f"not a valid {caption_type.upper()} file: {error}") from error
    segments = []
    before: list[str] = []  # the lines of the cue before
    for number, caption in enumerate(captions.captions, start=1):
        start, end = _seconds(caption.start_time), _seconds(caption.end_time)
        if end < start:
            raise CaptionFileError(
                f"cue {number} ends before it starts ({caption.start} --> {caption.end})"
            )
        if end > MAX_SECONDS:
            raise CaptionFileError(
                f"cue {number} ends at {caption.end}, later than any video "
                f"(at most {MAX_SECONDS // 3600:,} hours)"
            )
        lines = [" ".join(line.split()) for line in _unescaped(caption.text).splitlines()]
        lines = [line for line in lines if line]
        said, before = _new_lines(lines, before, end - start), lines
        if said:
            segments.append(Segment(" ".join(said), start, end - start))
    if not segments:
        raise CaptionFileError(f"the {caption_type.upper()} file has no captions")
    segments.sort(key=lambda segment: segment.start)
    return segments


# A cue this short that only repeats the line before is the flash between two rolling cues.
FLASH_SECONDS = 0.1


def _new_lines(lines: list[str], before: list[str], duration: float) -> list[str]:
    """The lines of a cue that were not said in the cue before. Captions made by speech
    recognition (YouTube's, as yt-dlp saves them) roll: each cue repeats the line before its
    new one, and a cue of 10 ms repeats the line just finished. Read as they come, every word
    was stored two or three times."""
    if not before or not lines or lines[0] != before[-1]:
        return lines
    if len(lines) > 1:
        return lines[1:]
    return [] if duration < FLASH_SECONDS else lines
