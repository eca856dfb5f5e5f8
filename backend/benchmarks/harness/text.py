"""Seeded English-like text for corpora, captions and transcripts: a vocabulary with Zipf-like
frequencies, twenty topics whose words recur in their own texts, and a few rare names."""

import itertools
import random
from functools import cache

SEED, VOCABULARY_SIZE, ZIPF_EXPONENT = 20_240_611, 3_500, 1.0
WORDS_PER_CHUNK = 94  # with the topic words, about 150 cl100k tokens
TOPIC_TERMS_PER_CHUNK = (3, 10)
RARE_TERM_CHANCE = 0.0005  # per chunk: about 80 of 165,000 chunks carry one of the rare names
CAPTION_WORDS = (10, 14)

# Ordinary spoken English, most frequent first; the first third are stopwords, which
# to_tsvector drops, as it does about half of the words of real talk.
COMMON_WORDS = """
the and to of a i you it that in is was we so this for on they but what with just have be not
are do my can all there about your if or at as he an by his from me our their them then were
would will had been more some when how these no very here could which out up who because
know like get people think really going right well time actually thing things good make way
want need look see work lot year say go take first new much kind little use back day something
different start point question mean pretty sure part great find bit next important problem show
try give long idea example change place number world end talk help today keep call old better
fact hand system small week big course life understand simple case minute real whole maybe high
feel stuff second story moment best easy hard money person own another every around always
never enough large early group might open play run school still thought together turn without
""".split()  # noqa: SIM905 - a word list reads better as text

# Twenty subjects; a text keeps to one, so its words recur there and almost nowhere else.
TOPICS: dict[str, tuple[str, ...]] = {
    "baking": ("sourdough", "starter", "flour", "dough", "crust", "dutch oven", "proofing",
        "yeast", "gluten", "loaf"),
    "running": ("marathon", "mileage", "taper", "pace", "long run", "shoes", "hydration",
        "interval", "tempo", "stride"),
    "solar": ("solar", "panel", "inverter", "photovoltaic", "battery", "silicon", "wattage",
        "grid", "rooftop", "efficiency"),
    "python": ("python", "asyncio", "coroutine", "event loop", "decorator", "generator", "typing",
        "pip", "virtualenv", "interpreter"),
    "databases": ("postgresql", "index", "query", "planner", "vacuum", "replication",
        "transaction", "schema", "jsonb", "btree"),
    "coffee": ("espresso", "grinder", "pour over", "crema", "roast", "arabica", "brew", "barista",
        "bloom", "french press"),
    "gardening": ("compost", "tomato", "seedling", "mulch", "pruning", "soil", "fertilizer",
        "raised bed", "perennial", "aphids"),
    "photography": ("aperture", "shutter", "exposure", "lens", "bokeh", "tripod", "iso",
        "histogram", "golden hour", "mirrorless"),
    "finance": ("inflation", "portfolio", "dividend", "mortgage", "index fund", "bond", "interest",
        "budget", "pension", "equity"),
    "astronomy": ("telescope", "galaxy", "nebula", "orbit", "exoplanet", "black hole", "supernova",
        "comet", "eclipse", "spectrum"),
    "guitar": ("chord", "fretboard", "capo", "strumming", "pentatonic", "amplifier", "power chord",
        "tuning", "riff", "pick"),
    "chess": ("gambit", "checkmate", "endgame", "bishop", "knight", "castling", "opening", "pawn",
        "tactics", "queen sacrifice"),
    "cycling": ("derailleur", "cadence", "peloton", "saddle", "climb", "chainring", "puncture",
        "helmet", "watts", "gravel"),
    "woodworking": ("chisel", "dovetail", "plywood", "sander", "table saw", "joinery", "varnish",
        "clamp", "grain", "router"),
    "climate": ("emissions", "carbon", "glacier", "sea level", "drought", "methane", "renewable",
        "heatwave", "forecast", "ocean"),
    "machine learning": ("neural", "gradient", "transformer", "dataset", "loss function",
        "embedding", "overfitting", "tensor", "inference", "training"),
    "history": ("empire", "medieval", "dynasty", "revolution", "archive", "treaty", "roman empire",
        "manuscript", "castle", "siege"),
    "cooking": ("garlic", "saute", "simmer", "cast iron", "braise", "umami", "marinade", "knife",
        "stock", "seasoning"),
    "fitness": ("squat", "deadlift", "protein", "rest day", "hypertrophy", "kettlebell",
        "mobility", "stretching", "core", "reps"),
    "travel": ("itinerary", "passport", "hostel", "carry on", "layover", "visa", "backpack",
        "train", "museum", "jetlag"),
}  # fmt: skip
RARE_TERMS = ("zanzibar", "okavango", "kilimanjaro", "brahmaputra", "quetzalcoatl",
              "tierra del fuego", "vanuatu", "transnistria")  # fmt: skip


def invented_word(rng: random.Random) -> str:
    stem = "".join(
        rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 3))
    )
    return stem + rng.choice(("", "", "n", "r", "s", "t", "l"))


@cache
def vocabulary() -> tuple[str, ...]:
    """The common words, then invented ones, by falling frequency: names nobody searches for,
    standing in for the long tail of a real vocabulary."""
    rng = random.Random(SEED)
    taken = set(COMMON_WORDS) | {term for terms in TOPICS.values() for term in terms}
    words = list(dict.fromkeys(COMMON_WORDS))
    while len(words) < VOCABULARY_SIZE:
        word = invented_word(rng)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return tuple(words)


def zipf_cumulative(size: int) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(size)))


class TextGenerator:
    """Zipf-distributed words, some of a topic, now and then a rare name. Not thread-safe: one
    thread at a time draws from it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.word_weights = zipf_cumulative(len(self.words))
        self.topic_weights = zipf_cumulative(len(next(iter(TOPICS.values()))))

    def topic(self) -> str:
        return self.rng.choice(list(TOPICS))

    def words_about(self, topic: str, count: int, topic_terms: int) -> list[str]:
        words = self.rng.choices(self.words, cum_weights=self.word_weights, k=count)
        terms = TOPICS[topic]
        for term in self.rng.choices(terms, cum_weights=self.topic_weights, k=topic_terms):
            words.insert(self.rng.randrange(len(words) + 1), term)
        return words

    def chunk_text(self, topic: str) -> str:
        words = self.words_about(topic, WORDS_PER_CHUNK, self.rng.randint(*TOPIC_TERMS_PER_CHUNK))
        if self.rng.random() < RARE_TERM_CHANCE:
            words.insert(self.rng.randrange(len(words) + 1), self.rng.choice(RARE_TERMS))
        return " ".join(words)

    def caption(self, topic: str) -> str:
        count = self.rng.randint(*CAPTION_WORDS)
        return " ".join(self.words_about(topic, count, self.rng.randint(0, 2))[:count])
