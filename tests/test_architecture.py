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


def test_the_doc_names_the_split_package_and_the_gaussian_backend():
    text = DOC.read_text(encoding="utf-8")
    for name in ("split/", "split/result.py", "inference.gaussian", "diagnostics_by_unit",
                 "WHOLE_FIT", "spawn_rngs", "derive_rng"):
        assert name in text, name


def test_split_is_a_package_of_the_model_shape_with_its_old_names():
    import drtbayes
    from drtbayes import split
    from drtbayes.results import SplitResult

    for mod in ("model", "pulses", "components", "fit", "result"):
        assert (Path(split.__file__).parent / f"{mod}.py").is_file(), mod
    assert split.split_gitt is drtbayes.split_gitt
    assert split.SplitResult is SplitResult is drtbayes.SplitResult
    assert split.COMPONENTS == ("R1", "R2", "R3", "total")


# long functions allowed without the comment ("file:function"); keep it empty
_LONG_PENDING: set[str] = set()


def test_functions_over_80_lines_say_why():
    """A function over 80 lines (def to its end) has an 'over 80 lines' comment by its def."""
    import ast

    root = Path(__file__).resolve().parents[1] / "drtbayes"
    bad = []
    for f in sorted(root.rglob("*.py")):
        src = f.read_text(encoding="utf-8").splitlines()
        for n in ast.walk(ast.parse("\n".join(src))):
            if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first = min([n.lineno] + [d.lineno for d in n.decorator_list])
            if n.end_lineno - first + 1 <= 80:
                continue
            text = "\n".join(src[max(0, first - 4):n.end_lineno]).lower()
            key = f"{f.relative_to(root).as_posix()}:{n.name}"
            if "over 80 lines" not in text and key not in _LONG_PENDING:
                bad.append(f"{key} ({n.end_lineno - first + 1} lines)")
    assert not bad, bad


def test_diagnostics_read_in_one_shape():
    import json

    from drtbayes.inference import WHOLE_FIT, diagnostics_by_unit

    drt = {"A/c1/soc50": {"rhat_max": 1.0, "ess_bulk_min": 900.0, "divergences": 0,
                          "gate_pass": True}}
    soc = {"chains": 4, "draws": 100, "rhat_max": 1.02, "ess_bulk_min": 50.0,
           "divergences": 1, "gate_pass": False, "problems": ["x"]}
    assert diagnostics_by_unit(json.dumps(drt)) == drt
    assert diagnostics_by_unit(soc) == {WHOLE_FIT: soc}
    assert diagnostics_by_unit(soc, whole_fit_label="SOC model") == {"SOC model": soc}
    assert diagnostics_by_unit([{"spectrum": "s", "rhat_max": 1.0}]) == {
        "s": {"spectrum": "s", "rhat_max": 1.0}}
    assert diagnostics_by_unit("") == diagnostics_by_unit("not json") == {}
