"""What the tests and the benchmarks share: stand-ins for the outside world (YouTube replayed,
an OpenAI-compatible server, PgBouncer in front), throw-away databases, and the labelled talks.
Both import it; it imports neither."""
