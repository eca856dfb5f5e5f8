"""Template placeholders: `{name}` is replaced by a variable, `{{` and `}}` are literal braces.

A small syntax on purpose: str.format would let a template reach attributes (`{x.__class__}`),
and a template engine would be more than four kinds of draft need.
"""

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariablesError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("missing variable(s): " + ", ".join(missing))


def placeholders(template: str) -> list[str]:
    """The variable names the template uses, in order of first use."""
    names = [match[1] for match in _TOKEN.finditer(template) if match[1]]
    return list(dict.fromkeys(names))


def render(template: str, variables: Mapping[str, str]) -> str:
    """The template with every placeholder filled; MissingVariablesError names all the gaps."""
    missing = [name for name in placeholders(template) if name not in variables]
    if missing:
        raise MissingVariablesError(missing)

    def substitute(match: re.Match[str]) -> str:
        if match[1]:
            return str(variables[match[1]])
        return match[0][0]  # "{{" → "{", "}}" → "}"

    return _TOKEN.sub(substitute, template)
