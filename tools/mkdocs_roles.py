"""MkDocs hook: render the Sphinx roles of numpydoc docstrings (``:func:`x```) as references.

mkdocstrings' numpy style parses the sections of a numpydoc docstring but leaves inline Sphinx
roles as text, so a page showed ``:func:`` before every cross-reference. The docstrings keep
the roles (they are the numpydoc convention, and ``help()`` reads them fine); this hook turns
each rendered role into an optional autorefs cross-reference: a link where the target is
documented on the site, plain code where it is not.
"""

from __future__ import annotations

import re
from typing import Any

# a role after Markdown rendering: the backquoted target has become <code>...</code>
_ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|term|ref):<code>(~?)([^<]+)</code>"
)
# the same inside code spans that Markdown left alone (``:func:`x```)
_RAW_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _reference(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    if target.endswith("()"):
        target = target[:-2]
    shown = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def on_page_content(html: str, **_: Any) -> str:
    """Replace every rendered Sphinx role on a page by an optional cross-reference."""
    html = _ROLE.sub(_reference, html)
    return _RAW_ROLE.sub(lambda m: f"<code>{m.group(2).lstrip('~')}</code>", html)
