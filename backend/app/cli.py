"""Administration commands: `python -m app.cli grant-admin EMAIL` (or `make admin EMAIL=…`).

Administrator rights are given here, on the server, never through the API.
"""

import argparse
import asyncio
import sys

from app.db.errors import NotFoundError
from app.db.repositories import UserRepository
from app.db.session import dispose_engine, unit_of_work


async def set_admin(email: str, is_admin: bool) -> str:
    try:
        async with unit_of_work() as session:
            user = await UserRepository(session).set_admin(email, is_admin)
    finally:
        await dispose_engine()
    return f"{user.email} is {'now' if is_admin else 'no longer'} an administrator"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("grant-admin", "make a user an administrator"),
        ("revoke-admin", "withdraw it"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("email")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(set_admin(args.email, args.command == "grant-admin")))
    except NotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
