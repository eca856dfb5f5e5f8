"""What the service says in its own words, in the languages it speaks: English, Spanish, German,
French and Polish.

Quotes stay in the language they were said in; the few words around them are in the reader's:
a chat answer's in the language the question was asked in (app/services/chat.py), a draft's in
the language most of its quotes are in (app/services/offline_drafts.py). English for any other
language, and when the language cannot be told.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Words:
    """The service's own words in one language."""

    # A chat answer.
    not_in_videos: str  # the whole answer to a question the videos do not answer
    preparing: str  # ...while some of the videos asked of are still being fetched or embedded
    no_videos: str  # ...of a library that holds no video yet
    quoted: str  # heads an answer quoted without a language model
    # A draft.
    own_words: str  # after the topic, opening a thread
    say_about_it: str  # before the key points
    hello: str
    subject: str
    sources: str


WORDS = {
    "en": Words(
        not_in_videos="I couldn't find anything about that in your videos. Try other words, or "
        "ingest a video that covers it.",
        preparing="I couldn't find anything about that in your videos yet, but some of them are "
        "still being prepared. Ask again once they are ready.",
        no_videos="You have no videos yet: paste a YouTube link or upload captions in your "
        "library, then ask again.",
        quoted="From your videos (quoted, no language model configured):",
        own_words="what was said, in the speakers' own words",
        say_about_it="What my videos say about it",
        hello="Hello",
        subject="Subject",
        sources="Sources",
    ),
    "es": Words(
        not_in_videos="No encontré nada sobre eso en tus vídeos. Prueba con otras palabras, o "
        "añade un vídeo que trate el tema.",
        preparing="Todavía no encontré nada sobre eso en tus vídeos, pero algunos aún se están "
        "preparando. Vuelve a preguntar cuando estén listos.",
        no_videos="Aún no tienes vídeos: pega un enlace de YouTube o sube subtítulos en tu "
        "biblioteca, y vuelve a preguntar.",
        quoted="De tus vídeos (citas textuales, sin modelo de lenguaje configurado):",
        own_words="lo que se dijo, con las palabras de quien habla",
        say_about_it="Lo que dicen mis vídeos",
        hello="Hola",
        subject="Asunto",
        sources="Fuentes",
    ),
    "de": Words(
        not_in_videos="Dazu habe ich in deinen Videos nichts gefunden. Versuche es mit anderen "
        "Worten, oder füge ein Video hinzu, das davon handelt.",
        preparing="Dazu habe ich in deinen Videos noch nichts gefunden, aber einige werden noch "
        "vorbereitet. Frag noch einmal, sobald sie fertig sind.",
        no_videos="Du hast noch keine Videos: Füge einen YouTube-Link ein oder lade Untertitel "
        "in deine Bibliothek hoch, und frag dann noch einmal.",
        quoted="Aus deinen Videos (wörtlich zitiert, kein Sprachmodell eingerichtet):",
        own_words="was gesagt wurde, in den Worten der Sprechenden",
        say_about_it="Was meine Videos dazu sagen",
        hello="Hallo",
        subject="Betreff",
        sources="Quellen",
    ),
    "fr": Words(
        not_in_videos="Je n'ai rien trouvé à ce sujet dans vos vidéos. Essayez avec d'autres "
        "mots, ou ajoutez une vidéo qui en parle.",
        preparing="Je n'ai encore rien trouvé à ce sujet dans vos vidéos, mais certaines sont "
        "encore en préparation. Reposez la question quand elles seront prêtes.",
        no_videos="Vous n'avez encore aucune vidéo : collez un lien YouTube ou importez des "
        "sous-titres dans votre bibliothèque, puis reposez la question.",
        quoted="D'après vos vidéos (citations, aucun modèle de langage configuré) :",
        own_words="ce qui a été dit, avec les mots de l'orateur",
        say_about_it="Ce que disent mes vidéos",
        hello="Bonjour",
        subject="Objet",
        sources="Sources",
    ),
    "pl": Words(
        not_in_videos="W Twoich filmach nie ma nic na ten temat. Spróbuj innymi słowami albo "
        "dodaj film, który o tym mówi.",
        preparing="Na razie nie ma nic na ten temat w Twoich filmach, ale niektóre są jeszcze "
        "przygotowywane. Zapytaj ponownie, gdy będą gotowe.",
        no_videos="Nie masz jeszcze żadnych filmów: wklej link do YouTube albo prześlij napisy "
        "do swojej biblioteki i zapytaj ponownie.",
        quoted="Z Twoich filmów (cytaty, bez skonfigurowanego modelu językowego):",
        own_words="co zostało powiedziane, słowami mówiących",
        say_about_it="Co mówią o tym moje filmy",
        hello="Dzień dobry",
        subject="Temat",
        sources="Źródła",
    ),
}


def words_in(language: str | None) -> Words:
    """The words of `language` (an ISO 639-1 code), English's for one not spoken here."""
    return WORDS.get(language or "en", WORDS["en"])
