"""The answer in words (drtbayes.answer) on hand-built crossover results with known answers.

Each case builds P(R_a < R_b) over a SOC grid from a logistic curve whose crossing SOC and
steepness are known, so the regions where one design is credibly lower (P >= 0.9) are known in
closed form: p(s) = 1 / (1 + exp(-(s - x) / w)) >= 0.9  <=>  s >= x + w ln 9.
"""

from __future__ import annotations

import numpy as np
import pytest

from drtbayes.answer import answer_component, answer_in_words

SOC = np.arange(0.0, 101.0, 1.0)
LN9 = np.log(9.0)


def _cx(p: np.ndarray, crossings: list[dict], p_crossing: float, level: float = 0.9) -> dict:
    # the reversal flag is computed as drtbayes.crossover does, from the curve's extremes
    hi, lo = float(p.max()), float(p.min())
    return {
        "p_crossing": p_crossing,
        "reversal": {"level": level, "p_a_better_max": hi, "p_a_better_min": lo,
                     "credible": bool(hi >= level and lo <= 1 - level)},
        "soc_median": crossings[0]["soc_median"] if crossings else None,
        "hdi95": crossings[0]["hdi95"] if crossings and p_crossing >= 0.5 else None,
        "crossings": crossings,
        "p_a_better": {"soc": SOC.tolist(), "p": p.tolist()},
    }


def _logistic(x: float, w: float, sign: float = 1.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-sign * (SOC - x) / w))


def test_one_crossing_a_lower_above():
    """One crossing: each design's credible side in closed form."""
    # a (L_SE) lower above 20 %: credible (P >= 0.9) from 20 + 3 ln 9 = 26.6 % up, b below 13.4 %
    p = _logistic(20.0, 3.0)
    cx = _cx(p, [{"soc_median": 19.6, "hdi95": [16.2, 22.4], "probability": 0.97}], 0.98)
    ans = answer_component(cx, "L_SE", "S_SE", "total")
    assert ans.verdict == "crossover"
    assert ans.text == ("total: S_SE is lower below 20 % SOC [16, 22] (P ≥ 0.9 up to 13 %), "
                        "L_SE above (P ≥ 0.9 from 27 % up)")
    assert 20.0 + 3.0 * LN9 == pytest.approx(26.6, abs=0.1)
    assert ans.p_lower["L_SE"] == pytest.approx(p.max())
    assert ans.p_lower["S_SE"] == pytest.approx(1 - p.min())


def test_design_names_swapped_gives_the_same_statement():
    """Swapping a and b (and P -> 1 - P) states the same thing."""
    p = _logistic(20.0, 3.0)
    cx = _cx(p, [{"soc_median": 19.6, "hdi95": [16.2, 22.4], "probability": 0.97}], 0.98)
    swapped = _cx(1.0 - p, cx["crossings"], 0.98)
    one = answer_component(cx, "L_SE", "S_SE", "total")
    two = answer_component(swapped, "S_SE", "L_SE", "total")
    assert one.text == two.text
    assert one.p_lower == two.p_lower


def test_no_crossing_one_design_lower_everywhere():
    """No crossing, one design credibly lower everywhere."""
    p = np.full(SOC.size, 0.99)
    ans = answer_component(_cx(p, [], 0.0), "L_SE", "S_SE", "R3")
    assert ans.verdict == "one_lower"
    assert ans.sentence == "L_SE is lower at every SOC (P ≥ 0.9), no credible crossover"


def test_no_difference_even_with_two_crossing_clusters():
    """Two crossing clusters but no credible order: 'no credible difference'."""
    # R1 of the paper: equal curves wiggle across each other in many draws (two clusters, the
    # larger above half the draws) but neither design is ever credibly lower
    p = 0.5 + 0.2 * np.sin(SOC / 15.0)
    crossings = [{"soc_median": 47.0, "hdi95": [5.0, 90.0], "probability": 0.55},
                 {"soc_median": 94.0, "hdi95": [88.0, 99.0], "probability": 0.2}]
    ans = answer_component(_cx(p, crossings, 0.62), "L_SE", "S_SE", "R1")
    assert ans.verdict == "no_difference"
    assert ans.crossings == ()
    lo, hi = p.min(), p.max()
    assert ans.sentence == (f"no credible difference (P(L_SE lower) {lo:.2f}–{hi:.2f} over "
                            "the SOC range)")


def test_reversal_not_credible_one_side_only():
    """One side credible, the other not: no crossover is stated."""
    # b credibly lower below 30 - 4 ln 9 = 21.2 %; a never reaches 0.9 (the curve tops at 0.8)
    p = 0.8 * _logistic(30.0, 4.0) + 0.1 * (1 - _logistic(30.0, 4.0)) - 0.05
    p = np.clip(p, 0.0, 1.0)
    crossings = [{"soc_median": 33.0, "hdi95": [20.0, 60.0], "probability": 0.7}]
    ans = answer_component(_cx(p, crossings, 0.7), "L_SE", "S_SE", "R2")
    assert ans.verdict == "one_lower"
    assert ans.crossings == ()
    limit = SOC[p <= 0.1].max()
    assert ans.sentence == (f"S_SE is lower up to {limit:.0f} % (P ≥ 0.9), no credible "
                            "crossover and no credible difference elsewhere")


def test_two_crossings():
    """Two credible crossings: three segments, in SOC order."""
    # a lower in the middle (30 %..70 %), b at both ends: a bump made of two logistics
    p = _logistic(30.0, 2.0) * _logistic(70.0, 2.0, sign=-1.0)
    crossings = [{"soc_median": 70.2, "hdi95": [66.0, 74.0], "probability": 0.96},
                 {"soc_median": 29.8, "hdi95": [26.0, 34.0], "probability": 0.95}]
    ans = answer_component(_cx(p, crossings, 0.99), "L_SE", "S_SE", "R3")
    assert ans.verdict == "crossover"
    assert [c["soc_median"] for c in ans.crossings] == [29.8, 70.2]
    up, down = 30 + 2 * LN9, 70 - 2 * LN9
    assert ans.sentence == (
        "the order reverses at 30 % SOC [26, 34] and 70 % SOC [66, 74]: "
        f"S_SE is lower below 30 % (P ≥ 0.9 up to {np.floor(30 - 2 * LN9):.0f} %), "
        f"L_SE between 30 and 70 % (P ≥ 0.9 from {np.ceil(up):.0f} to {np.floor(down):.0f} %), "
        f"S_SE above 70 % (P ≥ 0.9 from {np.ceil(70 + 2 * LN9):.0f} % up)")


def test_credible_reversal_without_a_located_crossing():
    """A credible reversal whose crossing SOC is not located."""
    # the order reverses, but the crossing SOCs spread over three clusters, none in half the draws
    p = _logistic(50.0, 8.0)
    crossings = [{"soc_median": 40.0, "hdi95": [35.0, 45.0], "probability": 0.4},
                 {"soc_median": 55.0, "hdi95": [50.0, 60.0], "probability": 0.35},
                 {"soc_median": 65.0, "hdi95": [60.0, 70.0], "probability": 0.2}]
    ans = answer_component(_cx(p, crossings, 0.95), "L_SE", "S_SE", "R2")
    assert ans.verdict == "reversal"
    assert "no single crossing SOC holds half the draws (P(cross) = 0.95)" in ans.sentence


def test_report_headline_and_to_dict_object():
    """The whole report, as dict and as an object with .to_dict()."""
    p = _logistic(20.0, 3.0)
    rep = {"a": "L_SE", "b": "S_SE", "components": {
        "R1": _cx(np.full(SOC.size, 0.6), [], 0.1),
        "total": _cx(p, [{"soc_median": 19.6, "hdi95": [16.2, 22.4], "probability": 0.97}],
                     0.98)}}

    class Result:  # the shape of a crossover result object: .to_dict() gives the dict
        def to_dict(self) -> dict:
            return rep

    a1, a2 = answer_in_words(rep), answer_in_words(Result())
    assert a1.text == a2.text
    assert a1.text.startswith("R1: no credible difference (P(L_SE lower) 0.60–0.60")
    assert "; total: S_SE is lower below 20 % SOC [16, 22]" in a1.text
    assert answer_in_words(rep, components=["total"]).sentences == [a1["total"].text]
    # a bare {component: crossover} mapping needs the design names
    with pytest.raises(ValueError, match="design names"):
        answer_in_words(rep["components"])
    assert answer_in_words(rep["components"], "L_SE", "S_SE").text == a1.text
