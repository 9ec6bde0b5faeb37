"""Tests of the model presets: discovery, validation, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtbayes.errors import PresetError
from drtbayes.presets import list_presets, load_preset

DRT_PRESETS = ("drt-single", "drt-hierarchical", "drt-robust")


def test_list_presets_has_the_drt_presets_with_descriptions():
    rows = dict(list_presets())
    for name in DRT_PRESETS:
        assert name in rows and len(rows[name]) > 20


@pytest.mark.parametrize("name", DRT_PRESETS)
def test_drt_presets_load_and_are_consistent(name):
    p = load_preset(name)
    assert p["name"] == name and p["kind"] == "drt"
    assert p["tau_grid"]["extend_decades"] >= 1
    assert p["preset_toml"].startswith("#") and Path(p["preset_path"]).name == f"{name}.toml"
    assert (p["model"]["pooling"] == "hierarchical") == (name == "drt-hierarchical")
    assert (p["likelihood"]["family"] == "student_t") == (name == "drt-robust")


def test_preset_by_path(tmp_path):
    src = Path(load_preset("drt-single")["preset_path"]).read_text()
    f = tmp_path / "mine.toml"
    f.write_text(src.replace('name = "drt-single"', 'name = "mine"'))
    assert load_preset(f)["name"] == "mine"
    assert load_preset(str(f))["name"] == "mine"


def _variant(tmp_path, old, new):
    src = Path(load_preset("drt-single")["preset_path"]).read_text()
    assert old in src
    f = tmp_path / "bad.toml"
    f.write_text(src.replace(old, new))
    return f


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("points_per_decade = 6", 'points_per_decade = "six"', "tau_grid.points_per_decade"),
        ("extend_decades = 1.0", "extend_decades = 0.5", "tau_grid.extend_decades"),
        ('family = "normal"', 'family = "cauchy"', "likelihood.family"),
        ("draws = 1000\n#", "draws = 1000.5\n#", "sampler.draws"),
        ('inference = "empirical_bayes"', 'inference = "eb"', "hyperpriors.inference"),
        ("inductance = true", "inductance = 1", "model.inductance"),
        ("r_inf_scale = 2.0\n", "", "priors.r_inf_scale"),
        ("r_inf_scale = 2.0", "r_inf_scale = 2.0\nr_inf_sclae = 1.0", "r_inf_sclae"),
        ('family = "normal"', 'family = "student_t"', "likelihood.nu_alpha"),
        ("[gate]", "[gate\n", "not valid TOML"),
    ],
)
def test_invalid_presets_name_the_key(tmp_path, old, new, fragment):
    with pytest.raises(PresetError, match=fragment.replace(".", r"\.").replace("[", r"\[")):
        load_preset(_variant(tmp_path, old, new))


def test_unknown_name_lists_known_presets():
    with pytest.raises(PresetError, match="drt-single"):
        load_preset("drt-nonexistent")
    with pytest.raises(PresetError, match="not found"):
        load_preset("/no/such/preset.toml")
