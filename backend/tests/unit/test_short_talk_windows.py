"""The short talks `make eval --short-talks` asks: windows of whole captions, in order."""

from testkit.corpus import load_talks
from tests.retrieval.short_talks import windows


def test_a_talk_is_cut_into_windows_of_whole_captions_of_at_least_the_words_asked() -> None:
    talk = load_talks()[0]
    cut = windows(talk, 360)
    assert len(cut) > 3
    assert all(sum(len(s.text.split()) for s in w.segments) >= 360 for w in cut)
    held = [segment for window in cut for segment in window.segments]
    assert held == list(talk.segments[: len(held)])  # in order, none skipped but a short tail
    assert len(talk.segments) - len(held) < len(cut[0].segments)
    assert len({w.video_id for w in cut}) == len(cut)
    assert all(len(w.video_id) == 11 for w in cut)  # a YouTube id's length
