"""Figures of drtbayes.plots.compare, rendered to PNG from a Laplace SOC fit (seconds).

Set DRTBAYES_PLOT_DIR to also keep the PNGs for a visual check.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from drtbayes.answer import answer_component
from drtbayes.compare import contrast, crossover, fit_soc_model, simulate_split
from drtbayes.errors import ApproximationWarning, DataError
from drtbayes.plots.compare import (
    plot_cell_curves,
    plot_contrast,
    plot_crossover,
    plot_soc_curves,
)

matplotlib.use("Agg")
A, B = "L_SE", "S_SE"


@pytest.fixture(scope="module")
def fitted():
    """Fit a Laplace SOC model to a simulated split with a crossover at 25 %."""
    split, truth = simulate_split(seed=21, crossover_soc=25.0, n_pulses=60, n_samples=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        model = fit_soc_model(split, components=("R2",), fast=True, seed=3, draws=500)
    return split, truth, model


def _save(fig, tmp_path: Path, name: str) -> Path:
    out = Path(os.environ.get("DRTBAYES_PLOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    assert path.stat().st_size > 10_000  # a real raster, not an empty canvas
    return path


def test_plot_contrast(fitted, tmp_path):
    """The ratio and difference curves are the contrast's numbers."""
    _, _, model = fitted
    ax = plot_contrast(model, A, B, "R2")
    ds = contrast(model, A, B, "R2")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), ds["ratio_median"].values)
    p_line = ax.right_ax.get_lines()[0]
    np.testing.assert_allclose(p_line.get_ydata(), ds["p_a_better"].values)
    assert ax.get_yscale() == "log"
    _save(ax.figure, tmp_path, "contrast")
    ax2 = plot_contrast(ds, kind="diff")
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), ds["diff_median"].values)
    _save(ax2.figure, tmp_path, "contrast_diff")
    with pytest.raises(DataError):
        plot_contrast(ds, kind="log")


def test_plot_crossover(fitted, tmp_path):
    """The histogram's marks agree with the answer in words."""
    _, truth, model = fitted
    ax = plot_crossover(model, A, B, "R2", truth=truth["crossings"]["R2"])
    res = crossover(model, A, B, "R2")
    assert f"P(cross) = {res['p_crossing']:.2f}" in ax.get_title()
    # histogram counts add up to the number of crossings found (one per crossing draw here)
    total = sum(p.get_height() for p in ax.patches if hasattr(p, "get_height"))
    assert total >= res["p_crossing"] * model.posterior.sizes["draw"] * 0.99
    # every credible crossing's median, HDI and probability is in the legend, which sits
    # above the tallest bar; the numbers are the crossover's (as in the report's table)
    verdict = answer_component(res, A, B, "R2")
    assert verdict.verdict == "crossover"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for c in verdict.crossings:
        lo, hi = c["hdi95"]
        assert (f"crossover {c['soc_median']:.0f} % [{lo:.0f}, {hi:.0f}] "
                f"(P = {c['probability']:.2f})") in labels, labels
    tallest = max(p.get_height() for p in ax.patches if hasattr(p, "get_height"))
    assert ax.get_ylim()[1] >= 1.4 * tallest
    _save(ax.figure, tmp_path, "crossover")
    # the same crossover passed in: the figure shows it, no recomputation
    ax_in = plot_crossover(model, A, B, "R2", crossover=res)
    assert [t.get_text() for t in ax_in.get_legend().get_texts()] == labels[:-1]  # no truth
    plt.close(ax_in.figure)
    # a crossover the answer calls not credible (no reversal): no median, no HDI, and the
    # title says so, however many draws cross
    weak = {**res, "reversal": {**res["reversal"], "credible": False}}
    ax_w = plot_crossover(model, A, B, "R2", crossover=weak)
    assert "no credible crossover" in ax_w.get_title()
    labels_w = [t.get_text() for t in ax_w.get_legend().get_texts()]
    assert not any("HDI" in lab or lab.startswith("crossover") for lab in labels_w), labels_w
    plt.close(ax_w.figure)


def test_plot_soc_curves(fitted, tmp_path):
    """Design curves, pulses, and the crossover only where credible."""
    split, _, model = fitted
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    plot_soc_curves(model, A, B, "R2", split=split, ax=axes[0])
    ax = plot_soc_curves(model, A, B, "R2", ax=axes[1])
    post = model.posterior["log_r"].sel(design=A, component="R2")
    med = np.exp(post.median(("chain", "draw")).values)
    # the curve is drawn over the design's measured range: the last points of the grid
    drawn = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(drawn, med[-len(drawn) :])
    labels = [line.get_label() for line in ax.get_lines()]
    cx = crossover(model, A, B, "R2")
    assert cx["hdi95"] is not None
    assert f"crossover {cx['soc_median']:.0f} % (P = {cx['crossings'][0]['probability']:.2f})" \
        in labels
    _save(fig, tmp_path, "soc_curves")
    # no credible reversal: no crossover line, as in the table and the answer in words
    weak = {**cx, "reversal": {**cx["reversal"], "credible": False}}
    ax2 = plot_soc_curves(model, A, B, "R2", crossover=weak)
    assert not any(str(line.get_label()).startswith("crossover")
                   for line in ax2.get_lines())
    plt.close(ax2.figure)
    with pytest.raises(DataError, match="XL"):
        plot_soc_curves(model, "XL", B, "R2")


def test_plot_cell_curves(fitted, tmp_path):
    """One curve per cell: the posterior median of that cell's own log R."""
    split, _, model = fitted
    ax = plot_cell_curves(model, "R2", split=split)
    post = model.posterior
    cells = [str(c) for c in post["cell"].values]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        f"{d} / {c}" for c, d in zip(cells, post["cell_design"].values.astype(str), strict=True)]
    med = np.exp(post["log_r_cell"].sel(cell=cells[0], component="R2")
                 .median(("chain", "draw")).values)
    drawn = lines[0].get_ydata()
    np.testing.assert_allclose(drawn, med[-len(drawn):])
    _save(ax.figure, tmp_path, "cell_curves")
    with pytest.raises(DataError, match="no cell"):
        plot_cell_curves(model, "R2", designs=["XL"])
