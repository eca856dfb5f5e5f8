"""Drafts without a language model: the key points quoted, in the shape of the platform.

A model writes a draft from the template. Without one, the service can only quote, but a
thread, a post, an article and an e-mail are still shaped as each platform wants them: a
Twitter/X thread of numbered posts of at most 280 characters each (a link counts as 23, as
t.co shortens it), a LinkedIn post under 3,000 characters, an article with headings, an e-mail
with a subject line. Every quote links to the second it is said. The few words of its own are
in the language most quotes are in (app/services/wording.py).
"""

from collections import Counter
from collections.abc import Callable, Sequence

from app.services.extract import Quote
from app.services.retrieval.citations import Citation, source_line
from app.services.wording import Words, words_in

POST_CHARACTERS = 280
LINK_CHARACTERS = 23  # what a link counts for in a post, whatever its length
LINKEDIN_CHARACTERS = 3000


def offline_draft(
    template_type: str, topic: str, quotes: Sequence[Quote], citations: Sequence[Citation]
) -> str:
    """The draft of that type quoting `quotes`, each with its citation's number and link."""
    by_number = {citation.number: citation for citation in citations}
    quoted = [(quote.text, by_number[quote.number]) for quote in quotes]
    shape = SHAPES.get(template_type, _article)
    return shape(_title(topic), quoted, citations, _words(quoted))


Quoted = Sequence[tuple[str, Citation]]


def _words(quoted: Quoted) -> Words:
    """The words of the language most quotes are in."""
    languages = Counter(citation.hit.language for _, citation in quoted)
    language = languages.most_common(1)[0][0] if languages else None
    return words_in(language)


def _title(topic: str) -> str:
    topic = " ".join(topic.split())
    return topic[:1].upper() + topic[1:]


def _sources(citations: Sequence[Citation]) -> str:
    return "\n".join(source_line(c) for c in citations)


def _thread(title: str, quoted: Quoted, citations: Sequence[Citation], words: Words) -> str:
    """Numbered posts: the topic, then one quote a post with its link, each within the limit."""
    total = len(quoted) + 1
    opening = f"1/{total} "
    ending = f": {words.own_words}."
    posts = [f"{opening}{_shortened(title, POST_CHARACTERS - len(opening) - len(ending))}{ending}"]
    for number, (text, citation) in enumerate(quoted, start=2):
        head = f"{number}/{total} “"
        room = POST_CHARACTERS - len(head) - len("” ") - LINK_CHARACTERS
        posts.append(f"{head}{_shortened(text, room)}” {citation.url}")
    return "\n\n".join(posts)


def _shortened(text: str, room: int) -> str:
    """`text` cut at a word to fit in `room` characters, with "…" when cut."""
    if len(text) <= room:
        return text
    cut = text[: room - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def _post(title: str, quoted: Quoted, citations: Sequence[Citation], words: Words) -> str:
    points = [f"• “{text}” [{citation.number}]" for text, citation in quoted]
    while True:  # the last key points give way to the limit, the first never does
        post = f"{title}\n\n{words.say_about_it}:\n\n" + "\n\n".join(points)
        post += f"\n\n{_sources(citations)}"
        if len(post) <= LINKEDIN_CHARACTERS or len(points) == 1:
            return post[:LINKEDIN_CHARACTERS]
        points.pop()


def _article(title: str, quoted: Quoted, citations: Sequence[Citation], words: Words) -> str:
    """A heading, a section for each video quoted (in the order first quoted), the sources."""
    sections: dict[str, list[str]] = {}
    for text, citation in quoted:
        video = citation.hit.title or citation.hit.youtube_video_id
        sections.setdefault(video, []).append(f"> {text} [{citation.number}]")
    body = "\n\n".join(f"## {video}\n\n" + "\n\n".join(said) for video, said in sections.items())
    return f"# {title}\n\n{body}\n\n## {words.sources}\n\n{_sources(citations)}"


def _email(title: str, quoted: Quoted, citations: Sequence[Citation], words: Words) -> str:
    points = "\n".join(f"- {text} [{citation.number}]" for text, citation in quoted)
    return (
        f"{words.subject}: {title}\n\n{words.hello},\n\n{words.say_about_it}:\n\n{points}\n\n"
        f"{words.sources}:\n{_sources(citations)}\n"
    )


SHAPES: dict[str, Callable[[str, Quoted, Sequence[Citation], Words], str]] = {
    "twitter": _thread,
    "linkedin": _post,
    "blog": _article,
    "email": _email,
}
