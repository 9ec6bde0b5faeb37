"""MkDocs hook: render numpydoc roles as references and merge parameters documented together.

mkdocstrings' numpy style parses the sections of a numpydoc docstring but leaves inline Sphinx
roles as text, so a page showed ``:func:`` before every cross-reference. The docstrings keep
the roles (they are the numpydoc convention, and ``help()`` reads them fine); this hook turns
each rendered role into an optional autorefs cross-reference: a link where the target is
documented on the site, plain code where it is not.

numpydoc lets one entry document several parameters (``design, cell, soc`` followed by one
description); the parameter table repeated that description on one row per name, which read
as copy-pasted text. Consecutive rows with the same description are merged into one row
naming every parameter.
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


_ROW = re.compile(r'<tr class="doc-section-item">\s*(<td>.*?</td>)\s*(<td>.*?</td>)\s*'
                  r'(<td>\s*<div class="doc-md-description">.*?</div>\s*</td>)\s*'
                  r'(<td>.*?</td>)?\s*</tr>', re.S)


def _merge_rows(html: str) -> str:
    """Merge runs of parameter-table rows that share one description into one row."""
    out, pos = [], 0
    rows = list(_ROW.finditer(html))
    i = 0
    while i < len(rows):
        j = i
        while (j + 1 < len(rows) and rows[j + 1].group(3) == rows[i].group(3)
               and html[rows[j].end():rows[j + 1].start()].strip() == ""):
            j += 1
        if j > i:
            run = rows[i:j + 1]
            names = ", ".join(re.sub(r"^<td>\s*|\s*</td>$", "", m.group(1)) for m in run)
            # griffe gives every name of a shared entry the first name's type, which is wrong
            # for the others (soc is a float, design a str): the type cell is left empty
            kind = "<td>–</td>"
            default = run[0].group(4) or ""
            if len({m.group(4) for m in run}) > 1:
                default = "<td>–</td>"
            out.append(html[pos:run[0].start()])
            out.append(f'<tr class="doc-section-item"><td>{names}</td>{kind}{run[0].group(3)}'
                       f"{default}</tr>")
            pos = run[-1].end()
        i = j + 1
    out.append(html[pos:])
    return "".join(out)


def on_page_content(html: str, **_: Any) -> str:
    """Render the roles of a page as references and merge shared parameter rows."""
    html = _ROLE.sub(_reference, html)
    html = _RAW_ROLE.sub(lambda m: f"<code>{m.group(2).lstrip('~')}</code>", html)
    return _merge_rows(html)
