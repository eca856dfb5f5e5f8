"""What the benchmarks share: `machine` (how a benchmark runs, CPU and load), `report` (tables,
percentiles, PASS/FAIL), `database`, `servers`, `api` (set-up through the API), `load` (wrk,
httpx, in-process turns), `timing`, `text` and `corpus` (the data), `search` and `ingestion`
(measurements several benchmarks make), and `bare` (the server the app is measured against)."""
