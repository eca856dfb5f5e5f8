"""`python -m app.client …`: the same as the `talker` command."""

from app.client.cli import main

main()
