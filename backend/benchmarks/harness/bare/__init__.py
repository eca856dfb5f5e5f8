"""The bare server the HTTP benchmarks measure the app against: Starlette on a raw asyncpg pool,
running the same SQL as the app's repositories for the same endpoints, with the same bearer-token
check, and answering JSON of the same shape. It skips input validation and the OpenAPI response
models: that is part of what the app costs.

`sql` holds the statements (the repositories' own, compiled for asyncpg), `chat` the chat turn
with the offline model, `server` the routes. Served by uvicorn as
`benchmarks.harness.bare.server:bare_app --factory` (servers.BARE_TARGET); DATABASE_URL names
its database.
"""
