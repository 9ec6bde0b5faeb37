"""The trust verdict (drtbayes.drt.trust) and the cases of issues 22 and 28 it must catch.

Fast set: the runs test against sequences whose answer is known, and the verdict's checks on a
MAP + Laplace fit of a spectrum with two bad points at the top of the sweep (the checks compute
the same figures whatever the sampler). Slow set (NUTS): the issue-22 outlier case (the main
arc right, or the fit reported not trusted), a clean spectrum that must be trusted, and the
two cases of issue 28.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from drtbayes import elements as el
from drtbayes.drt import fit_drt
from drtbayes.drt.trust import _runs_z, trust_of
from drtbayes.io import make_spectrum

F_LIION = el.log_frequencies(2e6, 1e-2, 10)
#: the frequencies of the two bad points (2 MHz and 1.26 MHz)
BAD_HZ = {float(F_LIION[0]), float(F_LIION[2])}
#: the Li-ion-like spectrum's main (charge-transfer) arc
MAIN_ARC_OHM = 1.5


def _liion(bad_points: bool = True, seed: int = 1):
    """R_inf 0.5 + SEI ZARC 0.3 + main arc 1.5 (5 ms) + transmissive Warburg 0.8, 0.3 % noise.

    With ``bad_points`` the 2 MHz and 1.26 MHz points are replaced by what a cable resonance
    gives (Z' 2-3 x R_inf, Z'' strongly inductive).
    """
    z = (0.5 + el.zarc_impedance(F_LIION, 0.3, 2e-5, 0.85)
         + el.zarc_impedance(F_LIION, MAIN_ARC_OHM, 5e-3, 0.8)
         + el.warburg_transmissive_impedance(F_LIION, 0.8, 50.0))
    rng = np.random.default_rng(seed)
    z = z + 0.003 * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))
    if bad_points:
        z[0] = 1.6 + 0.9j
        z[2] = 1.2 + 0.5j
    return make_spectrum(F_LIION, z, imag_sign="as-is")


def _fit(spec, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_drt(spec, "drt-single", progress=False, seed=0, **kw)


def test_runs_z_known_sequences():
    """The runs-test z of sequences whose run count is known."""
    # alternating signs: the most runs possible (n runs for n points), z far above 0;
    # two blocks: 2 runs, z far below 0; the exact figure from the formula for n+ = n- = 20
    alt = np.array([1, -1] * 20)
    blocks = np.array([1] * 20 + [-1] * 20)
    mean, var = 21.0, 2 * 20 * 20 * (2 * 20 * 20 - 40) / (40**2 * 39)
    assert _runs_z(alt) == pytest.approx((40 - mean) / np.sqrt(var))
    assert _runs_z(blocks) == pytest.approx((2 - mean) / np.sqrt(var))
    assert np.isnan(_runs_z(np.ones(30)))


def test_trust_checks_find_the_two_bad_points_fast():
    """KK and the outlier check name the two bad frequencies; a Laplace fit is not trusted."""
    res = _fit(_liion(), fast=True)
    verdict = trust_of(res)[res.spectra[0]]
    # a Laplace fit is never trusted: no sampler diagnostics
    assert verdict["trusted"] is False
    assert verdict["checks"]["gate"]["pass"] is None
    # the KK check and the noise-model outliers point at the two bad frequencies exactly
    assert verdict["checks"]["kk"]["pass"] is False
    found = set(verdict["checks"]["outliers"]["frequencies_hz"])
    assert BAD_HZ <= found, found
    # stored as JSON in the attrs, and in the summary
    assert json.loads(res.tree.attrs["trust"]) == trust_of(res)
    assert res.summary_dict()[res.spectra[0]]["trust"]["trusted"] is False


@pytest.mark.slow
def test_outlier_case_main_arc_right_or_not_trusted():
    """Issue 22: with two bad points the default fit gets the main arc or is not trusted."""
    res = _fit(_liion())
    lab = res.spectra[0]
    verdict = trust_of(res)[lab]
    peaks = res.summary_dict()[lab]["peaks"]
    main = min(peaks, key=lambda p: abs(np.log10(p["tau_s"]["median"] / 5e-3)))
    arc_right = abs(main["r_ohm"]["median"] - MAIN_ARC_OHM) <= 0.15 * MAIN_ARC_OHM
    assert arc_right or not verdict["trusted"], (main, verdict)
    # and the reasons name the points: the influence check marks the two bad ones
    if not verdict["trusted"]:
        assert verdict["reasons"]
        infl = set(verdict["checks"]["influence"]["influential_frequencies_hz"])
        outl = set(verdict["checks"]["outliers"]["frequencies_hz"])
        assert BAD_HZ <= (infl | outl)


@pytest.mark.slow
def test_clean_spectrum_is_trusted():
    """The same spectrum without the bad points is trusted (the verdict is not always no)."""
    res = _fit(_liion(bad_points=False))
    verdict = trust_of(res)[res.spectra[0]]
    assert verdict["trusted"], verdict["reasons"]


def test_trust_words_say_the_verdict():
    """The verdict in one line: trusted (with a blocking note), or every reason."""
    from drtbayes.drt.trust import trust_words

    assert trust_words({"trusted": True, "reasons": []}) == "trusted"
    assert trust_words({"trusted": True, "reasons": ["blocking electrode: CPE line"]}) == (
        "trusted (blocking electrode: CPE line)")
    assert trust_words({"trusted": False, "reasons": ["a", "b"]}) == "NOT TRUSTED: a; b"
    assert trust_words(None).startswith("no trust verdict")


def test_fit_eis_console_lines_carry_the_verdict():
    """``drtbayes fit-eis`` prints the verdict under each spectrum's line."""
    from drtbayes.cli import fit_summary_lines

    stat = {"median": 1.0, "hdi95": [0.9, 1.1]}
    summary = {"_method": "nuts", "_preset": "drt-single",
               "a": {"r_inf": stat, "r_pol": stat, "peaks": [],
                     "diagnostics": {"gate_pass": True},
                     "trust": {"trusted": False, "reasons": ["1 point(s) beyond 5 noise sd"]}},
               "b": {"r_inf": stat, "r_pol": stat, "peaks": [],
                     "diagnostics": {"gate_pass": True}, "trust": {"trusted": True,
                                                                   "reasons": []}}}
    lines = fit_summary_lines(summary)
    assert lines[1].startswith("a: R_inf") and lines[1].endswith("gate passed")
    assert lines[2] == "  verdict: NOT TRUSTED: 1 point(s) beyond 5 noise sd"
    assert lines[4] == "  verdict: trusted"
