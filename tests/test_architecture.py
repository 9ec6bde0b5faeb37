"""docs/architecture.md describes the saved results that drtbayes/results/schema.py declares."""

from __future__ import annotations

import re
from pathlib import Path

from drtbayes.conventions import RESULT_KINDS
from drtbayes.results.schema import SCHEMAS

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _doc_schema() -> dict[tuple[str, str, str], set[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- schema:begin -->")[1].split("<!-- schema:end -->")[0]
    out: dict[tuple[str, str, str], set[str]] = {}
    for line in block.strip().splitlines():
        m = re.fullmatch(r"- `(\w+)` `([\w.]+)` ([\w-]+): (.+)", line.strip())
        assert m, f"unparsable schema line in architecture.md: {line!r}"
        kind, fname, group, names = m.groups()
        out[(kind, fname, "" if group == "-" else group)] = set(re.findall(r"`(\w+)`", names))
    return out


def test_every_schema_entry_is_in_the_doc_and_the_other_way_round():
    """Kinds, files, groups and variables agree exactly between the doc and the schema."""
    doc = _doc_schema()
    code = {(s.kind, s.file_name, g): set(v) for s in SCHEMAS.values() for g, v in s.groups.items()}
    assert doc == code
    assert {k for k, _, _ in doc} == set(RESULT_KINDS)


def test_the_doc_names_the_new_layout():
    """Every package of the layout and every backend module is named in the doc."""
    text = DOC.read_text(encoding="utf-8")
    for name in ("inference/", "soc/", "compare/", "results/", "conventions.py", "numerics.py",
                 "progress.py", "inference.compile", "inference.packed", "inference.whiten",
                 "inference.threads", "inference.parallel", "ResultBase", "CrossoverResult",
                 "EIGENVALUE_FLOOR", "GATE_DEFAULT", "clear_model_cache"):
        assert name in text, name
