"""`talker`: the command-line client, for people who live in a terminal.

- `api.py`: the HTTP API over httpx, its errors turned into `ClientError`s with the server's
  message; no import of the server's code beyond parsing a video id.
- `credentials.py`: the login token kept in the user's config folder (mode 0600).
- `output.py`: how answers, citations, hits and tables are shown (rich).
- `cli.py`: the typer app (`talker …` or `python -m app.client …`).
"""
