"""Template placeholders: `{name}` is replaced by a variable, `{{` and `}}` are literal braces.

A small syntax on purpose: str.format would let a template reach attributes (`{x.__class__}`),
and a template engine would be more than four kinds of draft need.

Bounded: each value is repeated at every placeholder that names it, so a template of 20,000
characters holding `{a}` 6,666 times, with a value of a megabyte, would ask for gigabytes. A
template holds at most MAX_PLACEHOLDERS placeholders, and the size of the text a render would
produce is computed from the lengths alone and refused past MAX_RENDERED_CHARACTERS before
anything is built.
"""

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


MAX_PLACEHOLDERS = 100  # placeholders in one template, repeats included
MAX_VARIABLES = 50  # values given to one render
MAX_VALUE_CHARACTERS = 5_000
MAX_NAME_CHARACTERS = 64  # a variable's name: a placeholder naming a longer one could never fill
MAX_RENDERED_CHARACTERS = 64 * 1024


class RenderTooLargeError(ValueError):
    def __init__(self, characters: int) -> None:
        self.characters = characters
        super().__init__(
            f"the rendered text would hold {characters:,} characters, more than the "
            f"{MAX_RENDERED_CHARACTERS:,} allowed: shorten the values or the template"
        )


class MissingVariablesError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("missing variable(s): " + ", ".join(missing))


def placeholders(template: str) -> list[str]:
    """The variable names the template uses, in order of first use."""
    names = [match[1] for match in _TOKEN.finditer(template) if match[1]]
    return list(dict.fromkeys(names))


def placeholder_count(template: str) -> int:
    """How many placeholders the template holds, repeats included."""
    return sum(1 for match in _TOKEN.finditer(template) if match[1])


def rendered_length(template: str, variables: Mapping[str, str]) -> int:
    """The length of `render(template, variables)`, from the lengths alone (nothing is built)."""
    length = len(template)
    for match in _TOKEN.finditer(template):
        value = variables.get(match[1], "") if match[1] else match[0][0]
        length += len(value) - len(match[0])
    return length


def render(template: str, variables: Mapping[str, str]) -> str:
    """The template with every placeholder filled; MissingVariablesError names all the gaps,
    RenderTooLargeError refuses a text longer than MAX_RENDERED_CHARACTERS."""
    missing = [name for name in placeholders(template) if name not in variables]
    if missing:
        raise MissingVariablesError(missing)
    if (length := rendered_length(template, variables)) > MAX_RENDERED_CHARACTERS:
        raise RenderTooLargeError(length)

    def substitute(match: re.Match[str]) -> str:
        if match[1]:
            return str(variables[match[1]])
        return match[0][0]  # "{{" → "{", "}}" → "}"

    return _TOKEN.sub(substitute, template)
