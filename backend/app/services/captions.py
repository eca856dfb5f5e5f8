"""SRT and WebVTT caption files into timed segments (parsed by webvtt-py).

Cues are returned in order of their start, whatever their order in the file; a cue that ends
before it starts, or later than any video, is refused with its number, and cues without text
are skipped.
"""

import codecs
import html
import io
import itertools
import re
from dataclasses import dataclass

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
    rf"[ \t]*{_LOOSE_TIME}[ \t]*(-->|->)[ \t]*{_LOOSE_TIME}((?:[ \t]+[\w-]+:\S+)*)[ \t]*"
)


# A character reference, ended by its semicolon: HTML's older names without one ("&not",
# "&copy") would read "&notes" as "¬es" and "&copy=2" as "©=2".
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _unescaped(text: str) -> str:
    return _REFERENCE.sub(lambda reference: html.unescape(reference.group(0)), text)


# What captions show beside the words said: a sound described in brackets ("[Music]", "(audience
# laughing)", "[Aplausos]"), notes around sung lines, the ">>" that marks a new speaker, and the
# override tags of subtitles converted from ASS ("{\an8}" places a line at the top). Quoted,
# they read as words somebody said, and a cue of nothing else would be linked to as the answer.
# Only known sounds go: brackets also hold what a transcriber added ("[CDU/CSU]", "[the phone]").
_SOUNDS = (
    "music|musik|música|musique|musica|muzyka|applause|applaus|aplausos|applaudissements|"
    "applausi|oklaski|laughter|laughs|laughing|laugh|risas|rires|risate|gelächter|lachen|śmiech|"
    "cheering|cheers|inaudible|crosstalk|silence|noise|chuckles|sighs|coughs|beep|blank_audio"
)
_SOUND = re.compile(
    rf"[\[(]\s*(?:[\w'-]+\s+){{0,2}}(?:{_SOUNDS})(?:\s+[\w'-]+){{0,2}}\s*[\])]",
    re.IGNORECASE,
)
_OVERRIDE_TAG = re.compile(r"\{\\[^{}]*\}")  # no brace inside: linear on "{\{\{\…"
_NOT_SAID = re.compile(rf"{_SOUND.pattern}|[♪♫]|^\s*>>+", re.IGNORECASE)


def _spoken(line: str) -> str:
    """The words of a caption line, without what it shows beside them (above)."""
    return " ".join(_NOT_SAID.sub(" ", _OVERRIDE_TAG.sub("", line)).split())


_CUE_SEPARATOR = re.compile(r"(\n[ \t]*\n)")
_BLANKS_BEFORE_A_CUE = re.compile(r"\n[ \t]+\n(?=(?:[^\n]*\n)?[^\n]*-{1,2}>)")
_WEBVTT_LINE = re.compile(r"\A\s*webvtt", re.IGNORECASE)


def _tidied(content: str, caption_type: str) -> str:
    """Without byte-order marks (a file made of two joined ones has one mid-file), with "\\n"
    ending its lines, and as its format is written: SRT without blank lines before the first
    cue or spaces at line ends ("1 " for a cue number), WebVTT with its header in capitals."""
    content = content.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    if caption_type == "srt":
        return "\n".join(line.rstrip() for line in content.strip().splitlines()) + "\n"
    # Not in WebVTT: a line of one space is a line of text, as speech-recognition cues have;
    # only one just before a cue's timing (or its identifier) ends the cue before.
    content = _BLANKS_BEFORE_A_CUE.sub("\n\n", content)
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

    def block(cue: str) -> str:
        # A cue's timing is its first line, or its second after a number or an identifier:
        # the same words further down are what was said.
        lines = cue.split("\n")
        for at in range(min(2, len(lines))):
            if (timing := _LOOSE_TIMING.fullmatch(lines[at])) is not None:
                lines[at] = rewritten(timing)
                break
        return "\n".join(lines)

    # A line of blanks ends a cue too: keep the separators as they are.
    parts = _CUE_SEPARATOR.split(content)
    return "".join(part if at % 2 else block(part) for at, part in enumerate(parts))


def _seconds(timestamp: Timestamp) -> float:
    # webvtt-py's *_in_seconds properties drop the milliseconds: keep them.
    hours, minutes, seconds, milliseconds = timestamp.to_tuple()
    return hours * 3600 + minutes * 60 + seconds + milliseconds / 1000


def caption_format(content: str) -> str:
    """ "vtt" when the file starts as WebVTT says it must (its WEBVTT line, in any case), else
    "srt": an SRT file saved under a .vtt name is still SRT."""
    return "vtt" if _WEBVTT_LINE.match(content.lstrip("\ufeff")[:64]) else "srt"


def caption_text(raw: bytes) -> str:
    """The file's text: UTF-8 (a byte-order mark or not), UTF-16 with its byte-order mark, or,
    when it is not UTF-8, Windows-1252, in which Windows tools save Western European captions.
    UnicodeDecodeError when it is none of them, or when read as Windows-1252 it would be
    another language's bytes misread (Cyrillic, Polish, UTF-8 with a stray byte)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as not_utf8:
        text = raw.decode("cp1252")  # refuses the five bytes it leaves undefined
        if not _reads_as_western(text):
            raise not_utf8 from None
        return text


# What Windows-1252 text in a Western European language holds beyond ASCII: accented letters
# and the typographer's punctuation. A misread Cyrillic or Polish file shows other signs
# (superscripts, fractions, currency) or mostly accented letters; misread UTF-8 shows "Ã©".
_WESTERN = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸ")
_WESTERN_MARKS = set(
    "\u00a0\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u20ac"  # quotes, dashes, ellipsis, euro
    "\u00ab\u00bb\u00b0\u00b7\u2022\u2122\u00a9\u00ae\u00a1\u00bf"  # guillemets, signs
)
_MISREAD_UTF8 = re.compile("[ÂÃ][\u0080-\u00bf]|ï»¿")


def _reads_as_western(text: str) -> bool:
    beyond = [char for char in text if ord(char) > 127]
    if any(char not in _WESTERN and char not in _WESTERN_MARKS for char in beyond):
        return False
    letters = sum(char.isalpha() for char in text)
    accented = sum(char in _WESTERN for char in beyond)
    return accented <= 0.2 * letters and not _MISREAD_UTF8.search(text)


def parse_captions(content: str, caption_type: str) -> list[Segment]:
    """The cues of an SRT or WebVTT file as segments sorted by start; CaptionFileError when the
    file is malformed, a cue ends before it starts, or no cue has text."""
    content = _timings_as_written_by_the_book(_tidied(content, caption_type), caption_type)
    try:
        captions = webvtt.from_buffer(io.StringIO(content), format=caption_type)
    except (MalformedFileError, ValueError, IndexError) as error:
        raise CaptionFileError(f"not a valid {caption_type.upper()} file: {error}") from error
    cues = []
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
        lines = [_spoken(line) for line in _unescaped(caption.text).splitlines()]
        cues.append(_Cue(start, end - start, [line for line in lines if line]))
    segments = [
        Segment(" ".join(said), cue.start, cue.duration)
        for cue, said in zip(cues, _said(cues), strict=True)
        if said
    ]
    if not segments:
        raise CaptionFileError(f"the {caption_type.upper()} file has no captions")
    segments.sort(key=lambda segment: segment.start)
    return segments


# A cue this short that only repeats the line before is the flash between two rolling cues.
FLASH_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class _Cue:
    start: float
    duration: float
    lines: list[str]


def _said(cues: list[_Cue]) -> list[list[str]]:
    """Each cue's lines as said for the first time. Captions made by speech recognition
    (YouTube's, as yt-dlp saves them) roll: each cue repeats the line before its new one, and
    a cue of 10 ms repeats the line just finished; read as they come, every word was stored two
    or three times. Such a file is told by its flashes, which no person writes; in any other,
    a line said again (a chorus) is kept."""
    pairs = list(itertools.pairwise(cues))
    if not any(_is_flash(cue, before) for before, cue in pairs):
        return [cue.lines for cue in cues]
    said = [cues[0].lines] if cues else []
    for before, cue in pairs:
        carried = bool(before.lines and cue.lines and cue.lines[0] == before.lines[-1])
        if not carried:
            said.append(cue.lines)
        else:
            said.append(cue.lines[1:] if len(cue.lines) > 1 or not _is_flash(cue, before) else [])
    return said


def _is_flash(cue: _Cue, before: _Cue) -> bool:
    return cue.duration < FLASH_SECONDS and cue.lines == before.lines[-1:] and bool(cue.lines)
