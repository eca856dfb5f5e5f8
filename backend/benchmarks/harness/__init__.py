"""What the benchmarks share, one module per thing: `runner` (uvloop, clean exits), `database` (the
throw-away database, engines, pools), `sessions` (the app's two session configurations, the
statements each sends around a read), `chunk_inserts` (a batch of chunks inserted three ways),
`servers` (server processes), `api` (set-up through the API), `load` (wrk, httpx and in-process
load), `prober` (a server's latency probed from a process of its own), `machine` (CPU, load
average), `report` (tables, percentiles, PASS/FAIL), `timing` (statements, GC pauses), `text`,
`corpus`, `vector_corpus` and `kept_corpus` (the data), `search`, `ingestion` and `chat_round_trip`
(measurements the benchmarks make), and `bare` (the server the app is measured against)."""
