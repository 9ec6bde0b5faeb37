"""Study-file parsing: valid files load, every kind of mistake names the key or path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from drtbayes.errors import StudyFileError
from drtbayes.study import load_study

GOOD = """
[study]
name = "LPSCl particle size"
capacity_mah = 2.4
area_cm2 = 0.785

[compare]
a = "L_SE"
b = "S_SE"

[[cells]]
design = "S_SE"
cell = "S1"
gitt = "gitt/S1.csv"
eis = [{ file = "eis/S1_soc50.csv", soc = 50 },
       { file = "eis/S1_soc0.csv", soc = 0, cell_type = "half" }]

[[cells]]
design = "L_SE"
cell = "L1"
capacity_mah = 2.2
gitt = "gitt/L1.csv"
eis = [{ file = "eis/L1_soc50.csv", soc = 50, temperature_c = 25 }]
"""


def _make(tmp_path: Path, text: str = GOOD) -> Path:
    for rel in ("gitt/S1.csv", "gitt/L1.csv", "eis/S1_soc50.csv", "eis/S1_soc0.csv",
                "eis/L1_soc50.csv"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_good_study_loads(tmp_path):
    """Check: good study loads."""
    st = load_study(_make(tmp_path))
    assert st.name == "LPSCl particle size"
    assert (st.a, st.b) == ("L_SE", "S_SE")
    assert st.designs == ("S_SE", "L_SE")
    s1, l1 = st.cells
    assert s1.capacity_mah == 2.4 and l1.capacity_mah == 2.2   # per-cell override
    assert s1.area_cm2 == 0.785
    assert s1.gitt == (tmp_path / "gitt/S1.csv").resolve()   # relative to the study file
    assert [e.soc for e in s1.eis] == [50.0, 0.0]
    assert s1.eis[1].cell_type == "half" and s1.eis[0].cell_type == "symmetric"
    assert l1.eis[0].temperature_c == 25 and math.isnan(s1.eis[0].temperature_c)
    assert len(st.input_files()) == 5
    assert s1.eis[0].capacitance_f is None and s1.eis[0].capacitance_rel_sd == 0.1
    assert st.settings()["cells"][0]["design"] == "S_SE"


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: t.replace("[compare]", "[compare]\nc = 1"),
         "unknown key compare.c (allowed in compare: a, b, components)"),
        (lambda t: t.replace('cell = "S1"', 'cell = "S1"\ncolour = "red"'),
         "unknown key cells[0].colour"),
        (lambda t: t.replace("eis/S1_soc0.csv", "eis/missing.csv"), "missing.csv"),
        (lambda t: t.replace('gitt = "gitt/L1.csv"', 'gitt = "gitt/nope.csv"'), "cells[1].gitt"),
        (lambda t: t.replace('b = "S_SE"', 'b = "XL_SE"'),
         "compare.b = 'XL_SE': expected a design that has cells (S_SE, L_SE)"),
        (lambda t: t.replace("soc = 50 },\n", "soc = 150 },\n"),
         "cells[0].eis[0].soc = 150: expected a state of charge in percent, a number in [0, 100]"),
        (lambda t: t.replace("capacity_mah = 2.4", 'capacity_mah = "big"'), "study.capacity_mah"),
        (lambda t: t.replace('cell_type = "half"', 'cell_type = "full"'), "cell_type"),
        (lambda t: t + "\n[unknown]\n", "unknown key unknown (allowed in the top level:"),
        (lambda t: t.replace("temperature_c = 25", "capacitance_f = -1.0"),
         "cells[1].eis[0].capacitance_f = -1.0: expected a capacitance in F, a number > 0"),
        (lambda t: t.replace("temperature_c = 25", "capacitance_rel_sd = 0.2"),
         "cells[1].eis[0].capacitance_rel_sd = 0.2: expected to be given with "
         "cells[1].eis[0].capacitance_f"),
        (lambda t: t.replace("temperature_c = 25", "capacitance_f = 4.0, capacitance_rel_sd = 9"),
         "capacitance_rel_sd = 9: expected the sd of ln C (0.1 means about 10 %), "
         "a number in (0, 5]"),
        (lambda t: t.replace("[study]", "[study"), "not valid TOML"),
        (lambda t: t.replace('cell = "L1"', 'cell = "S1"')
         .replace('design = "L_SE"', 'design = "S_SE"'),
         "listed twice"),
    ],
)
def test_bad_study_names_the_problem(tmp_path, edit, fragment):
    """Check: bad study names the problem."""
    path = _make(tmp_path, edit(GOOD))
    with pytest.raises(StudyFileError, match=None) as info:
        load_study(path)
    assert fragment in str(info.value)


def test_known_capacitance_per_spectrum(tmp_path):
    """Check: known capacitance per spectrum."""
    text = GOOD.replace("temperature_c = 25", "capacitance_f = 4.2, capacitance_rel_sd = 0.2")
    st = load_study(_make(tmp_path, text))
    e = st.cells[1].eis[0]
    assert (e.capacitance_f, e.capacitance_rel_sd) == (4.2, 0.2)
    assert st.settings()["cells"][1]["eis"][0]["capacitance_f"] == 4.2


def test_missing_study_file(tmp_path):
    """Check: missing study file."""
    with pytest.raises(StudyFileError, match="not found"):
        load_study(tmp_path / "nope.toml")


def test_capacity_required_for_gitt(tmp_path):
    """Check: capacity required for gitt."""
    text = GOOD.replace("capacity_mah = 2.4\n", "")
    with pytest.raises(StudyFileError,
                       match=r"cells\[0\]\.capacity_mah is missing \(needed for the GITT"):
        load_study(_make(tmp_path, text))
