"""The documentation site builds strictly and shows no raw Sphinx roles.

mkdocstrings renders the numpydoc sections of the docstrings; the inline roles
(``:func:`x```) are turned into cross-references by tools/mkdocs_roles.py. Without that hook
the API page showed them as text (66 of them when the hook was written).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):")


def test_mkdocs_strict_build_has_no_raw_roles(tmp_path):
    """``mkdocs build --strict`` succeeds and no page holds a raw role or autoref tag."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(site)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = list(site.rglob("*.html"))
    assert (site / "api" / "index.html") in pages and (site / "results" / "index.html") in pages
    found = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        hits = RAW_ROLE.findall(text) + re.findall(r"<autoref\b", text)
        if hits:
            found[str(page.relative_to(site))] = len(hits)
    assert not found, found
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    # the roles became links to the documented objects
    assert 'href="#drtbayes.bands.time_constant_bands"' in api
    # parameters documented together appear once, not as one copied row per name
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from mkdocs_roles import _ROW
    finally:
        sys.path.pop(0)
    rows = list(_ROW.finditer(api))
    assert len(rows) > 100
    repeated = [m.group(1) for a, m in zip(rows, rows[1:], strict=False)
                if m.group(3) == a.group(3) and api[a.end():m.start()].strip() == ""]
    assert not repeated, repeated[:3]
