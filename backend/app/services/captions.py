"""SRT and WebVTT caption files into timed segments (parsed by webvtt-py).

Cues are returned in order of their start, whatever their order in the file; a cue that ends
before it starts, or later than any video, is refused with its number, and cues without text
are skipped.
"""

import html
import io

import webvtt
from webvtt.errors import MalformedFileError
from webvtt.models import Timestamp

from app.services.chunking import MAX_SECONDS, Segment

CAPTION_FORMATS = ("srt", "vtt")


class CaptionFileError(ValueError):
    """The file is not a caption file of the announced format."""


def _seconds(timestamp: Timestamp) -> float:
    # webvtt-py's *_in_seconds properties drop the milliseconds: keep them.
    hours, minutes, seconds, milliseconds = timestamp.to_tuple()
    return hours * 3600 + minutes * 60 + seconds + milliseconds / 1000


def caption_format(filename: str, content: str) -> str:
    """ "vtt" or "srt", from the WEBVTT header first, then the file name."""
    if content.lstrip("\ufeff").startswith("WEBVTT"):
        return "vtt"
    if filename.lower().endswith(".vtt"):
        return "vtt"
    return "srt"


def parse_captions(content: str, caption_type: str) -> list[Segment]:
    """The cues of an SRT or WebVTT file as segments sorted by start; CaptionFileError when the
    file is malformed, a cue ends before it starts, or no cue has text."""
    try:
        captions = webvtt.from_buffer(io.StringIO(content.lstrip("\ufeff")), format=caption_type)
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
        lines = [" ".join(line.split()) for line in html.unescape(caption.text).splitlines()]
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
