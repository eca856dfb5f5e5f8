"""Integrity of the labelled retrieval corpus: the talks load, every answer is really in its talk,
and each kind of question is what it claims to be (a paraphrase shares no content word with its
answer; an unanswerable question points at no video)."""

import re
from collections import Counter

import pytest

from testkit.corpus import (
    KINDS,
    VIEWER_TALKS,
    Kind,
    Question,
    Subkind,
    Talk,
    load_questions,
    load_talks,
    normalise_space,
)

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
MIN_PER_KIND: dict[Kind, int] = {"verbatim": 30, "paraphrase": 30, "unanswerable": 30}
MIN_PER_SUBKIND: dict[Subkind, int] = {"off_topic_shared_word": 15, "near_topic": 15}
MIN_TALKS = 6
MIN_WORDS_PER_TALK = 4_000

# Function words and words so common that sharing them gives a search engine nothing to go on.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each even ever
    few for from further get getting got had has have having he her here hers him his how i if in
    into is it its itself just let like many me might more most much must my no nor not now of off
    on once only or other our ours out over own per really same say said she should so some such
    than that the their them then there these they thing things this those through to too under
    until up upon us very was way we were what when where which while who whom why will with
    would yet you your yours one two first new back well right time people make go going
    according around among across within without since though although despite onto toward
    s t ll ve re d m don
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

TALKS = load_talks()
QUESTIONS = load_questions()
TALKS_BY_ID = {talk.video_id: talk for talk in TALKS}


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words of `text`, without stopwords."""
    return {stem(word) for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in STOPWORDS}


def stem(word: str) -> str:
    """Strips one inflection, then a final e, so that dose, doses, dosed and dosing agree."""
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def answerable(kind: Kind) -> list[Question]:
    return [question for question in QUESTIONS if question.kind == kind]


def test_there_are_enough_long_talks_with_distinct_valid_ids() -> None:
    ids = [talk.video_id for talk in TALKS]
    assert len(TALKS) >= MIN_TALKS
    assert len(set(ids)) == len(ids)
    assert all(VIDEO_ID.match(video_id) for video_id in ids), ids
    short = {talk.video_id: len(talk.text.split()) for talk in TALKS}
    assert all(words >= MIN_WORDS_PER_TALK for words in short.values()), short


@pytest.mark.parametrize("talk", TALKS, ids=lambda talk: talk.video_id)
def test_segments_are_caption_sized_and_in_time_order(talk: Talk) -> None:
    assert talk.title
    starts = [segment.start for segment in talk.segments]
    assert starts == sorted(starts)
    assert all(segment.duration >= 0 and segment.text.strip() for segment in talk.segments)
    assert max(len(segment.text.split()) for segment in talk.segments) <= 20


def test_each_kind_has_enough_questions() -> None:
    kinds = Counter(question.kind for question in QUESTIONS)
    subkinds = Counter(question.subkind for question in QUESTIONS if not question.answerable)
    assert all(kinds[kind] >= minimum for kind, minimum in MIN_PER_KIND.items()), kinds
    assert all(subkinds[sub] >= minimum for sub, minimum in MIN_PER_SUBKIND.items()), subkinds


def test_questions_are_not_duplicated() -> None:
    texts = [normalise_space(question.text).lower() for question in QUESTIONS]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    "question",
    [question for question in QUESTIONS if question.answerable],
    ids=lambda question: question.text[:40],
)
def test_each_answer_is_a_verbatim_quote_of_its_talk(question: Question) -> None:
    assert question.video_id in TALKS_BY_ID
    assert question.answer is not None
    assert question.subkind is None
    assert normalise_space(question.answer) in TALKS_BY_ID[question.video_id].text


@pytest.mark.parametrize("question", answerable("paraphrase"), ids=lambda q: q.text[:40])
def test_a_paraphrase_shares_no_content_word_with_its_answer(question: Question) -> None:
    assert question.answer is not None
    shared = content_words(question.text) & content_words(question.answer)
    assert not shared, f"{question.text!r} shares {sorted(shared)} with its answer"


def test_unanswerable_questions_point_at_no_video() -> None:
    for question in QUESTIONS:
        if not question.answerable:
            assert question.video_id is None, question
            assert question.answer is None, question
            assert question.subkind is not None, question


def test_answerable_questions_cover_every_talk_from_start_to_end() -> None:
    """Each talk is asked about in its first, middle and last third, for both answerable kinds."""
    answerable_kinds: tuple[Kind, ...] = ("verbatim", "paraphrase")
    for kind in answerable_kinds:
        thirds: dict[str, set[int]] = {talk.video_id: set() for talk in TALKS}
        for question in answerable(kind):
            assert question.video_id is not None
            assert question.answer is not None
            text = TALKS_BY_ID[question.video_id].text
            position = text.index(normalise_space(question.answer)) / len(text)
            thirds[question.video_id].add(min(int(position * 3), 2))
        assert all(covered == {0, 1, 2} for covered in thirds.values()), (kind, thirds)


def test_content_words_drop_stopwords_and_stem_lightly() -> None:
    assert content_words("The doses were given to nursing homes") == {"dos", "given", "nurs", "hom"}


VIEWER_QUESTIONS = VIEWER_TALKS.questions()
VIEWER_TALKS_BY_ID = {talk.video_id: talk for talk in VIEWER_TALKS.talks()}


def test_the_short_talks_are_short_distinct_and_split_by_talk() -> None:
    talks = list(VIEWER_TALKS_BY_ID.values())
    assert len(talks) == 12
    assert all(VIDEO_ID.match(talk.video_id) for talk in talks)
    assert not VIEWER_TALKS_BY_ID.keys() & TALKS_BY_ID.keys()
    assert all(1_200 <= len(talk.text.split()) <= 2_200 for talk in talks)
    assert Counter(talk.split for talk in talks) == {"tuning": 4, "test": 8}
    assert {talk.language for talk in talks} >= {"en", "es", "de", "fr"}


@pytest.mark.parametrize("talk", VIEWER_TALKS_BY_ID.values(), ids=lambda talk: talk.video_id)
def test_the_short_talks_are_captions_in_time_order(talk: Talk) -> None:
    test_segments_are_caption_sized_and_in_time_order(talk)


def test_each_short_talk_question_is_about_a_talk_of_its_own_split() -> None:
    texts = [normalise_space(question.text).lower() for question in VIEWER_QUESTIONS]
    assert len(set(texts)) == len(texts)
    for question in VIEWER_QUESTIONS:
        talk_id = question.video_id or question.about
        if question.answerable:
            assert question.answer is not None, question
            assert question.about is None, question
            talk = VIEWER_TALKS_BY_ID[question.video_id or ""]
            assert normalise_space(question.answer) in talk.text, question
            assert question.subkind in (None, "typo"), question
        else:
            assert question.video_id is None, question
            assert question.answer is None, question
            assert question.subkind in ("near_topic", "off_topic", "off_topic_shared_word")
            assert (talk_id is not None) == (question.subkind == "near_topic"), question
        if talk_id is not None:
            assert question.split == VIEWER_TALKS_BY_ID[talk_id].split, question


def test_the_short_talks_are_asked_about_in_every_kind_and_language() -> None:
    for split in ("tuning", "test"):
        asked = [question for question in VIEWER_QUESTIONS if question.split == split]
        kinds = Counter[str](q.kind for q in asked) + Counter[str](q.subkind or "" for q in asked)
        assert all(kinds[kind] >= 4 for kind in (*KINDS, "typo", "near_topic")), kinds
        other = {q.language for q in asked if q.kind == "other_language"}
        assert other >= {"en", "es", "de", "fr", "pl"}, other
