"""The simulator writes a consistent study whose files reproduce its own ground truth."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from drtbayes import elements as el
from drtbayes import simulate as sim
from drtbayes.errors import OutputExistsError, ValueRangeError


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    sim.simulate_study(out, seed=3, fast=True, n_cells_per_design=1)
    return out


def test_study_files_and_schema(study):
    cfg = tomllib.loads((study / "study.toml").read_text())
    assert cfg["study"]["capacity_mah"] == 2.4
    assert cfg["compare"] == {"a": "L_SE", "b": "S_SE"}
    assert {c["design"] for c in cfg["cells"]} == {"L_SE", "S_SE"}
    for c in cfg["cells"]:
        assert (study / c["gitt"]).is_file()
        assert sorted(e["soc"] for e in c["eis"]) == [0, 50]
        for e in c["eis"]:
            assert (study / e["file"]).read_text().startswith("frequency_hz,z_real_ohm,z_imag_ohm")
    assert (study / cfg["cells"][0]["gitt"]).read_text().startswith("time_s,current_a,voltage_v")
    truth = json.loads((study / "truth.json").read_text())
    for d in ("L_SE", "S_SE"):
        for comp in ("R1", "R2", "R3", "total"):
            assert len(truth["designs"][d][comp]) == len(truth["pulse_soc"]) == 20
        np.testing.assert_allclose(
            np.sum([truth["designs"][d][c] for c in ("R1", "R2", "R3")], axis=0),
            truth["designs"][d]["total"], rtol=1e-12)
    # R1 is alike for both designs: no crossing; R2/R3 cross where the laws were solved to
    assert truth["crossover_soc"]["R1"] is None
    for comp in ("R2", "R3"):
        assert truth["crossover_soc"][comp] == pytest.approx(20.0, abs=0.5)
    # the edge definition (DRT minima vs log-midpoints) moves the truth by only a few %
    assert truth["edge_choice_max_rel_diff_10_90"] < 0.06


def test_design_physics_follows_paper():
    d = sim.design_params(20.0)
    cp = sim.CommonParams()
    mid = {k: sim.element_values(v, cp, 60.0) for k, v in d.items()}
    low = {k: sim.element_values(v, cp, 5.0) for k, v in d.items()}
    assert mid["L_SE"].r2_ohm < mid["S_SE"].r2_ohm and mid["L_SE"].r3_ohm < mid["S_SE"].r3_ohm
    assert low["L_SE"].r2_ohm > low["S_SE"].r2_ohm and low["L_SE"].r3_ohm > low["S_SE"].r3_ohm
    assert mid["L_SE"].r_contact_ohm == mid["S_SE"].r_contact_ohm
    with pytest.raises(ValueRangeError):
        sim.design_params(80.0)


def test_eis_files_are_the_symmetric_network_plus_1pct_noise(study):
    truth = json.loads((study / "truth.json").read_text())
    par = truth["parameters"]
    cp = sim.CommonParams(**par["common"])
    tc = truth["cells"]["S1"]
    cell = sim.CellParams("S_SE", "S1", **tc["factors"])
    dp = sim.DesignParams(**par["designs"]["S_SE"])
    data = np.loadtxt(study / "eis/S1_soc50.csv", delimiter=",", skiprows=1)
    assert data.shape == (81, 3) and data[0, 0] == pytest.approx(1e6)
    z = sim.symmetric_network(sim.element_values(dp, cp, 50.0, cell), cp, cell.f_se).impedance(
        data[:, 0])
    rel = (data[:, 1] + 1j * data[:, 2] - z) / np.abs(z)
    # 1 % noise on each part: the sd of the relative residuals is 0.01 (+-20 % for 162 values)
    assert 0.008 < np.std(np.concatenate([rel.real, rel.imag])) < 0.012
    assert np.all(data[:, 2][data[:, 0] < 10] < 0)  # capacitive


def test_gitt_record_reproduces_ocv_and_network(study):
    from drtbayes.io import detect_pulses, read_gitt

    truth = json.loads((study / "truth.json").read_text())
    g = read_gitt(study / "gitt/S1.csv", capacity_mah=2.4)
    pulses = detect_pulses(g)
    assert pulses.sizes["pulse"] == 20
    np.testing.assert_allclose(pulses["soc"].values, truth["pulse_soc"], atol=0.05)
    np.testing.assert_allclose(pulses["current_a"].values, -1.2e-3, rtol=1e-9)
    np.testing.assert_allclose(pulses["t_end"] - pulses["t_start"], 360.0, atol=1e-5)
    # first sample after every current step at 1 ms (and one at the step itself)
    t = g["time"].values
    for t_on in pulses["t_start"].values[:3]:
        after = t[t > t_on + 1e-7] - t_on
        assert after[0] == pytest.approx(1e-3, rel=1e-3)
    # the voltage in the middle of a pulse = OCV(SOC) + exact overpotential of the network
    par = truth["parameters"]
    cp = sim.CommonParams(**par["common"])
    tc = truth["cells"]["S1"]
    cell = sim.CellParams("S_SE", "S1", **tc["factors"])
    dp = sim.DesignParams(**par["designs"]["S_SE"])
    k = 8
    t_on, soc_mid = float(pulses["t_start"][k]), truth["pulse_soc"][k]
    net = sim.half_cell_network(sim.element_values(dp, cp, soc_mid, cell), cp, cell.f_se)
    sel = (t > t_on + 0.01) & (t < t_on + 300)
    soc_t = (soc_mid + 2.5) - 100 * 1.2e-3 * (t[sel] - t_on) / (2.4 * 3.6)
    model = sim.ocv_v(soc_t) + net.voltage_response(t[sel], [t_on], [-1.2e-3])
    resid = g["voltage"].values[sel] - model
    assert np.sqrt(np.mean(resid**2)) < 1.5e-4  # 0.1 mV noise


def test_split_truth_is_the_weighted_band_sum():
    cp = sim.CommonParams()
    ev = sim.element_values(sim.design_params()["S_SE"], cp, 50.0)
    tr = sim.split_truth(ev, cp, 72.0)
    net = sim.half_cell_network(ev, cp)
    # total = end-of-pulse polarisation / current against the bulk OCV
    v_end = net.voltage_response(np.array([72.0]), [0.0], [1.0])[0]
    assert tr["total"] == pytest.approx(v_end, rel=1e-12)
    assert tr["R1"] == pytest.approx(cp.r_se_ohm + ev.r_contact_ohm + cp.r_ce_ohm, rel=0.05)
    assert tr["R2"] == pytest.approx(ev.r2_ohm, rel=0.1)


def test_same_seed_same_files_and_no_clobber(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    kw = dict(seed=5, fast=True, n_cells_per_design=1, n_pulses=3)
    sim.simulate_study(a, **kw)
    sim.simulate_study(b, **kw)
    for f in ("gitt/S1.csv", "eis/L1_soc0.csv", "truth.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    with pytest.raises(OutputExistsError):
        sim.simulate_study(a, **kw)
    sim.simulate_study(a, force=True, **{**kw, "seed": 6})
    assert (a / "gitt/S1.csv").read_bytes() != (b / "gitt/S1.csv").read_bytes()


def test_smoothed_drt_integrates_to_network_resistance():
    net = el.zarc(10.0, 1e-2, 0.8) + el.rc(3.0, 1e-5)
    tau = np.logspace(-12, 10, 2201)
    g = sim.smoothed_drt(net, tau)
    assert np.trapezoid(g, np.log(tau)) == pytest.approx(13.0, rel=1e-3)
