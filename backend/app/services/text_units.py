"""Words and sentences in every script: what each step that cuts text (chunks, passages, the
moment a word is said, quotes, chapters) counts as a word and as a sentence's end.

A word is what whitespace separates. Chinese and Japanese write no spaces, and end sentences
with full stops and marks of their own (Hindi with the danda): read as they come, a caption
cue was one "word" and a run of cues one "sentence", so a quote could be minutes of speech
linking to its first second, and a pasted text one chunk of thousands of tokens. `spaced`
therefore puts a space after those sentence ends, and cuts a run without whitespace in such a
script longer than MAX_RUN characters (one with no punctuation), or any run longer than
MAX_OTHER_RUN (text made to stall the workers; a long link stays whole), never
before a combining mark. It also brings the text to Unicode's composed form (NFC), as typed
questions come: a caption saved decomposed ("e" + U+0301) was never found by "é".
"""

import re
import unicodedata

# Sentence ends: Latin, the ellipsis, CJK full stops and marks (full- and half-width), Devanagari.
SENTENCE_END_MARKS = ".!?\u2026\u3002\uff01\uff1f\uff61\u0964\u0965"
_CLOSERS = "'\")\\]\u300d\u300f\uff09"
# A word that ends a sentence (closing quotes and brackets may follow the mark).
ENDS_A_SENTENCE = re.compile(rf"[{SENTENCE_END_MARKS}][{_CLOSERS}]*$")
# The whitespace after a sentence's end: where a text is cut into sentences.
AFTER_A_SENTENCE = re.compile(rf"(?<=[{SENTENCE_END_MARKS}])\s+")
# The marks of scripts written without spaces, after which a space is put (a run of them, a
# question mark and an exclamation mark or an ellipsis of full stops, stays together).
_ENDS = "\u3002\uff01\uff1f\uff61\u0964\u0965"
# Possessive, after no mark: the whole run and its closing brackets, or nothing (backtracking
# would split "?!" before a space).
_UNSPACED_END = re.compile(f"(?<![{_ENDS}])([{_ENDS}]++[\u300d\u300f\uff09]*+)(?=\\S)")
# A character of a script written without spaces between words: Thai, Lao, Khmer, Myanmar,
# Japanese kana, CJK ideographs.
UNSPACED_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
# Every combining mark of the Basic Multilingual Plane (vowel signs, accents, viramas): a
# letter's marks belong to its word, though a regular expression's \w leaves them out.
COMBINING_MARKS = "".join(
    chr(code) for code in range(0x10000) if unicodedata.category(chr(code)).startswith("M")
)
# A word: a letter, then letters, digits, marks, inner apostrophes and hyphens.
WORD = re.compile(rf"[^\W\d_][\w'\u2019{re.escape(COMBINING_MARKS)}-]*")
# A run without whitespace is cut every MAX_RUN characters when it is in a script written
# without spaces; any other run only past MAX_OTHER_RUN (a link of 80 characters stays whole).
MAX_RUN = 80
MAX_OTHER_RUN = 1000
MAX_MARKS = 32  # marks one letter may carry, at the most, as a cut goes back to it
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")


def spaced(text: str) -> str:
    """The text in composed form, with a space after each sentence end of a script written
    without spaces, and no run without whitespace longer than MAX_RUN characters in such a
    script, or than MAX_OTHER_RUN in any other."""
    text = _UNSPACED_END.sub(r"\1 ", unicodedata.normalize("NFC", text))
    return _LONG_RUN.sub(_cut, text)


def _cut(run: re.Match[str]) -> str:
    text = run.group(0)
    size = MAX_RUN if UNSPACED_SCRIPT.search(text) else MAX_OTHER_RUN
    return text if len(text) <= size else " ".join(_pieces(text, size))


def _pieces(run: str, size: int) -> list[str]:
    """The run cut every `size` characters, each cut moved back before any combining marks (a
    vowel sign, an accent) so that no letter loses its marks."""
    pieces = []
    start = 0
    while len(run) - start > size:
        cut = start + size
        # At most MAX_MARKS back: a run of nothing but marks is cut anywhere, in linear time.
        while cut > start + size - MAX_MARKS and _combines(run[cut]):
            cut -= 1
        if _combines(run[cut]):
            cut = start + size
        pieces.append(run[start:cut])
        start = cut
    pieces.append(run[start:])
    return pieces


def _combines(character: str) -> bool:
    """A mark, a joiner or a variation selector: it belongs to the character before it."""
    return unicodedata.category(character).startswith("M") or character in "\u200c\u200d"
