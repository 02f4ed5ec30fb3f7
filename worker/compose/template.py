"""Message templates: named placeholders, nothing else.

A template is plain text with ``{name}`` placeholders (``{{`` and ``}}`` for
literal braces).  There is no attribute access, indexing, conversion or format
spec: a template comes from a config file and must not be able to reach into
Python objects.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "title",
        "excerpt",
        "content",
        "url",
        "hashtags",
        "categories",
        "author",
        "site_name",
        "date",
    }
)

_formatter = string.Formatter()


class TemplateError(ValueError):
    """A template uses a placeholder we do not know or a syntax we do not allow."""


def placeholders_in(template: str) -> list[str]:
    """The placeholder names a template uses, in order; raises ``TemplateError``."""
    names: list[str] = []
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:  # unbalanced braces
        raise TemplateError(f"template is not valid: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise TemplateError(
                f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not allowed: use a plain name "
                f"such as {{title}}"
            )
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise TemplateError(f"unknown placeholder {{{name}}}; known: {known}")
        names.append(name)
    return names


def render(template: str, fields: Mapping[str, str]) -> str:
    """Fill a template; a placeholder with no value becomes empty text."""
    out: list[str] = []
    for literal, name, _spec, _conversion in _formatter.parse(template):
        out.append(literal)
        if name is not None:
            out.append(fields.get(name, ""))
    return "".join(out)
