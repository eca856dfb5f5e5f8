"""A small labelled retrieval set: six short talks, and questions with the sentence that answers
each. A question is a hit when a chunk holding most of its answer sentence is among the top
results (chunks are token windows, so a sentence may straddle two of them).

The talks are written for these tests (no network here); the questions paraphrase the answers
rather than copy them, as people do.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Talk:
    video_id: str
    title: str
    sentences: tuple[str, ...]

    def segments(self, seconds_each: float = 6.0) -> list[dict[str, float | str]]:
        return [
            {"text": sentence, "start": index * seconds_each, "duration": seconds_each}
            for index, sentence in enumerate(self.sentences)
        ]


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    video_id: str
    answer: str  # a sentence of that talk


TALKS = (
    Talk(
        "pgIndexes01",
        "PostgreSQL indexes in practice",
        (
            "Welcome back to the channel, today is all about indexes in PostgreSQL.",
            "A B-tree index keeps keys sorted, so equality and range lookups are fast.",
            "GIN indexes store each element of a composite value, which suits JSONB and full-text search.",
            "A partial index only covers the rows matching its WHERE clause, so it stays small.",
            "Covering indexes with INCLUDE let an index-only scan skip the heap entirely.",
            "Every index slows down writes, because each insert has to update it too.",
            "Run EXPLAIN ANALYZE to see whether the planner actually uses your index.",
            "BRIN indexes summarise block ranges and shine on huge append-only tables like logs.",
            "Thanks for watching, and remember to vacuum.",
        ),
    ),
    Talk(
        "sourdough01",
        "Sourdough bread for beginners",
        (
            "Hi bakers, let us make a simple sourdough loaf together.",
            "Feed your starter flour and water the night before so it is bubbly and active.",
            "Mix the dough and let it rest for an hour; bakers call this autolyse.",
            "During bulk fermentation, do a set of stretch and folds every thirty minutes.",
            "Shape the loaf tightly to build surface tension, then proof it in the fridge overnight.",
            "Bake at two hundred and fifty degrees Celsius in a covered Dutch oven for twenty minutes.",
            "Remove the lid and bake another twenty minutes until the crust is deep brown.",
            "Let the bread cool for at least an hour before slicing or the crumb turns gummy.",
        ),
    ),
    Talk(
        "marathon001",
        "Training for your first marathon",
        (
            "So you signed up for a marathon, congratulations.",
            "Build your weekly mileage slowly, by no more than ten percent each week.",
            "Most of your runs should be easy, at a pace where you can still hold a conversation.",
            "The long run on the weekend teaches your body to burn fat and your mind to stay patient.",
            "Taper for two to three weeks before race day so your legs arrive fresh.",
            "Practice your race-day nutrition: take a gel every forty-five minutes on long runs.",
            "Replace your running shoes roughly every eight hundred kilometres.",
            "On race day, start slower than you think; the second half is where marathons are won.",
        ),
    ),
    Talk(
        "solarPanel1",
        "How solar panels make electricity",
        (
            "Today we look at how a solar panel turns sunlight into electricity.",
            "Photons knock electrons loose in the silicon, and the junction pushes them into a current.",
            "Panels produce direct current, so an inverter converts it to alternating current for your home.",
            "Efficiency of typical household panels is around twenty percent.",
            "Heat lowers panel output, which is why cool sunny days are the most productive.",
            "Point panels toward the equator and tilt them close to your latitude for the best yield.",
            "A home battery stores midday surplus for use in the evening.",
            "Most panels carry a twenty-five year performance warranty.",
        ),
    ),
    Talk(
        "pyAsyncio01",
        "Python asyncio explained",
        (
            "Let us demystify asyncio in Python.",
            "An event loop runs coroutines and switches between them whenever one awaits.",
            "Blocking calls like time.sleep freeze the whole loop, so use asyncio.sleep instead.",
            "Use asyncio.gather to run several coroutines concurrently and collect their results.",
            "CPU-heavy work belongs in a thread or process pool, via asyncio.to_thread or run_in_executor.",
            "A task created with asyncio.create_task runs in the background until you await or cancel it.",
            "Cancellation raises CancelledError inside the coroutine, so clean up in a finally block.",
            "Timeouts are easy with asyncio.timeout, which cancels the work when time runs out.",
        ),
    ),
    Talk(
        "coffeeBrew1",
        "Brewing better coffee at home",
        (
            "Good morning, let us brew a better cup of coffee.",
            "Use fresh beans and grind them just before brewing, because ground coffee goes stale fast.",
            "A ratio of about sixty grams of coffee per litre of water is a good starting point.",
            "Water just off the boil, around ninety-three degrees, extracts the best flavours.",
            "If the cup tastes sour, grind finer; if it tastes bitter, grind coarser.",
            "Let pour-over coffee bloom for thirty seconds so trapped carbon dioxide can escape.",
            "A French press needs a coarse grind and about four minutes of steeping.",
            "Store beans in an airtight container away from light and heat.",
        ),
    ),
)

QUESTIONS = (
    Question("Which index type works for JSONB columns?", "pgIndexes01", TALKS[0].sentences[2]),
    Question("how do I check that the planner uses my index", "pgIndexes01", TALKS[0].sentences[6]),
    Question("index for very large append-only log tables", "pgIndexes01", TALKS[0].sentences[7]),
    Question("why do indexes make inserts slower", "pgIndexes01", TALKS[0].sentences[5]),
    Question("How hot should the oven be for the sourdough?", "sourdough01", TALKS[1].sentences[5]),
    Question("what is autolyse", "sourdough01", TALKS[1].sentences[2]),
    Question("why is my bread crumb gummy", "sourdough01", TALKS[1].sentences[7]),
    Question("how often should I do stretch and folds", "sourdough01", TALKS[1].sentences[3]),
    Question("How fast should I increase my weekly mileage?", "marathon001", TALKS[2].sentences[1]),
    Question("how long should the taper be before the race", "marathon001", TALKS[2].sentences[4]),
    Question("when should I replace running shoes", "marathon001", TALKS[2].sentences[6]),
    Question("how often to take a gel during long runs", "marathon001", TALKS[2].sentences[5]),
    Question("Why do I need an inverter for solar panels?", "solarPanel1", TALKS[3].sentences[2]),
    Question("how efficient are household solar panels", "solarPanel1", TALKS[3].sentences[3]),
    Question("does heat reduce solar panel output", "solarPanel1", TALKS[3].sentences[4]),
    Question("which direction should solar panels face", "solarPanel1", TALKS[3].sentences[5]),
    Question(
        "Why shouldn't I call time.sleep in async code?", "pyAsyncio01", TALKS[4].sentences[2]
    ),
    Question("run several coroutines concurrently", "pyAsyncio01", TALKS[4].sentences[3]),
    Question("where should CPU heavy work go in asyncio", "pyAsyncio01", TALKS[4].sentences[4]),
    Question("what happens when a task is cancelled", "pyAsyncio01", TALKS[4].sentences[6]),
    Question("What water temperature is best for coffee?", "coffeeBrew1", TALKS[5].sentences[3]),
    Question("my coffee tastes sour, what should I change", "coffeeBrew1", TALKS[5].sentences[4]),
    Question("how much coffee per litre of water", "coffeeBrew1", TALKS[5].sentences[2]),
    Question("how long to steep a French press", "coffeeBrew1", TALKS[5].sentences[6]),
)


def answers(question: Question, video_id: str, chunk_text: str) -> bool:
    """Whether a retrieved chunk answers the question: right video, most of the answer in it."""
    wanted = set(question.answer.lower().split())
    return video_id == question.video_id and len(
        wanted & set(chunk_text.lower().split())
    ) >= 0.6 * len(wanted)


CHUNK_TOKENS = 40  # small chunks, so each talk spans several and retrieval has to choose
HIT_AT_5_FLOOR = 0.8
