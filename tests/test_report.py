"""The study report: the answer first, defined columns, workbook, Methods, and a rendered look.

One small simulated study (``simulate_study(fast=True)``, the --fast fits, ~1 min on two
shared cores) feeds every test here. Its truth is known: R2 and R3 of L_SE and S_SE cross at
25 % SOC and R1 does not differ between the designs.
"""

from __future__ import annotations

import html
import json
import re
import struct
import sys
from pathlib import Path

import pytest

from drtbayes.answer import answer_in_words
from drtbayes.pipeline import run_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """Run the small simulated study (fast fits) and return its results folder."""
    from drtbayes.simulate import simulate_study

    root = tmp_path_factory.mktemp("study")
    simulate_study(root, seed=3, crossover_soc=25.0, fast=True)
    out = tmp_path_factory.mktemp("run")
    run_study(root / "study.toml", out, seed=5, fast=True, quiet=True)
    return out


def test_fig_s7_check_needs_the_process_method(run_dir):
    """A band-method run says in one line that the Fig. S7 check needs the process method."""
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    line = re.search(r"<p>GITT total vs EIS \(Fig\. S7 check\): needs the process method.*?</p>",
                     page)
    assert line is not None and "split with <code>bands</code>" in line.group(0)
    assert not (run_dir / "figures" / "s7_check.png").exists()


def _first_screen(page: str) -> str:
    # everything before the first section heading: what a reader sees without scrolling
    return page[: page.index("<h2>")]


def test_answer_sentences_lead_the_report(run_dir):
    """The answer in words, from crossover.json, stands before the first section."""
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    rep = json.loads((run_dir / "crossover.json").read_text(encoding="utf-8"))
    ans = answer_in_words(rep)
    head = _first_screen(page)
    for c in ans.components:
        assert html.escape(c.sentence) in head, c.sentence
    # R2 crosses at the simulated 25 %: the sentence states a crossover whose interval holds it
    r2 = ans["R2"]
    assert r2.verdict == "crossover"
    lo, hi = r2.crossings[0]["hdi95"]
    assert lo <= 25.0 <= hi
    # every column of the headline table is defined in words below it
    table = re.search(r"<table class='headline stack'>(.*?)</table>", head, re.S).group(1)
    headers = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
    defined = [html.unescape(d) for d in re.findall(r"<dt>(.*?)</dt>", head)]
    assert set(headers) - {"component"} <= set(defined), (headers, defined)
    assert "P(a" not in head  # no undefined "a"


def test_no_crossover_reads_the_same_in_table_and_sentence(run_dir):
    """A component without a credible crossover shows no crossover SOC anywhere in its row."""
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    ans = answer_in_words(json.loads((run_dir / "crossover.json").read_text(encoding="utf-8")))
    table = re.search(r"<table class='headline stack'>(.*?)</table>", page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    for c, row in zip(ans.components, rows, strict=True):
        cells = [html.unescape(x) for x in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if c.verdict != "crossover":
            assert cells[2] == "none credible", cells
        else:
            assert cells[2].startswith(f"{c.crossings[0]['soc_median']:.1f} ["), cells


def test_methods_and_links_and_workbook(run_dir):
    """Methods names the presets and sampling actually used; tables are linked and written."""
    from openpyxl import load_workbook

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    methods = re.search(r"<p class='methods'>(.*?)</p>", page, re.S).group(1)
    assert "preset drt-hierarchical" in methods and "preset soc-spline" in methods
    assert "Laplace" in methods and "Random seed 5" in methods
    assert "{}" not in methods
    for name in ("resistance.csv", "resistance.xlsx", "crossover.json"):
        assert f"href='{name}'" in page
    assert "<details><summary>Versions" in page
    wb = load_workbook(run_dir / "resistance.xlsx")
    ws = wb["resistance"]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    csv_rows = (run_dir / "resistance.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(csv_rows)
    # the simulated cells have an area of 0.785 cm2: ohm cm2 = ohm x area, row by row
    i_m, i_a, i_ma = head.index("median"), head.index("area_cm2"), head.index("median_ohm_cm2")
    for r in rows[1:6]:
        assert r[i_ma] == pytest.approx(r[i_m] * r[i_a], rel=1e-12)
    assert "Ω·cm²" in page


def _png_size(path: Path) -> tuple[int, int]:
    with path.open("rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("width,height", [(1400, 1000), (420, 900)])
def test_report_renders_to_png(run_dir, tmp_path, width, height):
    """Headless Chromium renders the first screen at desktop and phone width."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import render_report
    finally:
        sys.path.pop(0)
    if render_report.find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    png = render_report.render(run_dir / "report.html", tmp_path / "r.png", width=width,
                               height=height)
    assert _png_size(png) == (width, height)
    # a rendered page, not a blank canvas: the PNG carries text and figures
    assert png.stat().st_size > 20_000


def test_results_page_examples_run(run_dir, tmp_path, monkeypatch):
    """Every Python example of docs/results.md runs on a study's results folder."""
    import matplotlib

    matplotlib.use("Agg")
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 8
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "results").symlink_to(run_dir)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks:
        if "az.plot_" in code:
            continue  # trace plots need a NUTS fit; the fixture's is --fast (no chains)
        exec(compile(code, "docs/results.md", "exec"), namespace)  # noqa: S102
    assert namespace["table"].shape[0] == 2 * len(namespace["fit"].tree["posterior"]["spectrum"])
    assert set(namespace["p_lower"].columns) == {"R1", "R2", "R3", "total"}


def test_methods_sampler_words_come_from_the_records():
    """NUTS settings: the result's record wins over the run's, which wins over the preset's."""
    from drtbayes.report import _preset, _sampling_words

    preset_toml = ('[sampler]\ndraws = 1000\ntune = 1000\nchains = 4\ntarget_accept = 0.95\n'
                   '[gate]\nrhat_max = 1.01\ness_bulk_min = 400\n')
    attrs = {"method": "nuts", "preset_toml": preset_toml,
             "sampler": json.dumps({"draws": 500, "tune": None, "chains": 2,
                                    "target_accept": None})}
    words = _sampling_words(attrs, _preset(attrs), {"tune": 300})
    assert words.startswith("sampled with the No-U-Turn sampler (nutpie), 2 chains of 500 "
                            "draws after 300 tuning steps, target acceptance 0.95")
    assert "R-hat ≤ 1.01 and bulk ESS ≥ 400" in words
    laplace = _sampling_words({"method": "laplace", "preset_toml": preset_toml}, _preset(
        {"preset_toml": preset_toml}), {})
    assert laplace.startswith("approximated by the posterior mode and a Laplace")


def test_every_spectrum_has_its_trust_verdict(run_dir):
    """The DRT table gives each spectrum the stored trust verdict in words (--fast: untrusted)."""
    from drtbayes.drt.trust import trust_of, trust_words
    from drtbayes.results import load

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    fit = load(run_dir / "eis_fit.nc")
    verdicts = trust_of(fit)
    assert set(verdicts) == set(fit.spectra)
    for lab in fit.spectra:
        words = trust_words(verdicts[lab])
        # a MAP + Laplace fit has no sampler gate, so it is never trusted
        assert words.startswith("NOT TRUSTED: MAP + Laplace approximation (--fast)")
        assert re.search(rf"<td[^>]*>{re.escape(html.escape(lab))}</td>", page)
    # the table says the verdict, the list below it the reasons (identical ones once)
    assert page.count("<td data-label='verdict'>not trusted</td>") == len(fit.spectra)
    notes = re.search(r"<ul class='trust'>(.*?)</ul>", page, re.S).group(1)
    assert notes.count("<li>") == 1
    assert html.escape(", ".join(fit.spectra)) + ": " + html.escape(words) in notes
    assert "<th>verdict</th>" in page
