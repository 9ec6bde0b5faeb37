"""The study report: one self-contained HTML page, the figures as PNG files, an Excel workbook.

The page opens with the answer in words (:mod:`drtbayes.answer`) and a table whose every column
is defined, then the figures, the data checks, a Methods paragraph to paste into a paper and,
collapsed, the versions and settings. It embeds every figure so it can be mailed or archived
as one file; the same figures are written to ``figures/`` for slides and papers, and the
tables to ``resistance.xlsx`` beside ``resistance.csv``.

The page is built in three layers: figure specs (:func:`_figure_specs`, what to draw), table
builders (``_*_table``, plain rows), and the HTML template (:func:`_page`).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import platform
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import __version__
from ._atomic import atomic_write_bytes, atomic_write_text
from .answer import Answer, answer_in_words
from .conventions import SOC_WHOLE_FIT
from .drt.trust import trust_of, trust_words
from .errors import DrtbayesWarning
from .inference.diagnostics import WHOLE_FIT, diagnostics_by_unit
from .progress import activity

FIG_DPI = 110

#: Figures drawn zoomable (click to enlarge) as well as embedded: the ones the answer rests on.
MAIN_FIGURES = ("contrasts", "crossover", "soc_curves")

#: SOC values (percent) of the resistance table; clipped to what each design measured.
TABLE_SOCS = (20.0, 50.0, 80.0)

COMPONENT_NAMES = {"R1": "R1 (contact + ohmic)", "R2": "R2 (charge transfer)",
                   "R3": "R3 (diffusion)", "total": "total"}

REFERENCES = (
    "S. Kawaguchi, N. Fukiya, K. Ehara, T. Ichikawa, M. Yoshimura, E. Iso, Y. Sasaki, "
    "Y. Horisawa, M. Shimada, M. Kuzuhara, T. Miyuki, Interface Engineering in Sulfide-Based "
    "All-Solid-State Batteries: Insights from Resistance Analysis (the resistance analysis "
    "this workflow follows).",
    "O. Abril-Pla et al., PyMC: a modern, and comprehensive probabilistic programming "
    "framework in Python, PeerJ Computer Science 9, e1516 (2023).",
    "A. Seyboldt et al., nutpie: a fast NUTS sampler for PyMC and Stan models, "
    "https://github.com/pymc-devs/nutpie.",
    "M. D. Hoffman, A. Gelman, The No-U-Turn Sampler, J. Mach. Learn. Res. 15, 1593 (2014).",
    "R. Kumar, C. Carroll, A. Hartikainen, O. Martin, ArviZ a unified library for exploratory "
    "analysis of Bayesian models in Python, J. Open Source Softw. 4, 1143 (2019).",
)


@dataclass
class _Context:
    """Everything the report reads, in one place (the figure and table builders take it)."""

    out_dir: Path
    study: Any
    spectra: list[xr.Dataset]
    gitt: dict[tuple[str, str], xr.Dataset]
    fit: Any
    bands: xr.Dataset
    split: xr.Dataset
    soc_model: Any
    crossover: dict[str, Any]
    settings: dict[str, Any]
    checksums: dict[str, str]
    truth: dict[str, Any] | None = None
    fast: bool = False
    answer: Answer | None = None
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- figures
class _Figures:
    """Renders figures to PNG (file + embedded copy) and records failures loudly."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / "figures"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.items: dict[str, tuple[str, str]] = {}
        self.failures: list[str] = []

    def add(self, name: str, caption: str, make: Callable[[], Any]) -> None:
        import matplotlib.pyplot as plt

        try:
            obj = make()
        except Exception as exc:  # noqa: BLE001  a broken figure must not lose the report
            msg = f"figure {name!r} could not be drawn: {type(exc).__name__}: {exc}"
            self.failures.append(msg)
            warnings.warn(msg, DrtbayesWarning, stacklevel=2)
            plt.close("all")
            return
        fig = obj if hasattr(obj, "savefig") else getattr(obj, "figure", None)
        if fig is None and isinstance(obj, np.ndarray | list | tuple):
            fig = np.ravel(obj)[0].figure
        buf = io.BytesIO()
        # the zoomable figures at twice the resolution: sharp when enlarged to 200 %
        dpi = 2 * FIG_DPI if name in MAIN_FIGURES else FIG_DPI
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        png = buf.getvalue()
        atomic_write_bytes(self.dir / f"{name}.png", png, force=True)
        self.items[name] = (caption, base64.b64encode(png).decode("ascii"))

    def html(self, name: str) -> str:
        if name not in self.items:
            return ""
        caption, b64 = self.items[name]
        img = f'<img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}">'
        if name in MAIN_FIGURES:
            # Zoom: a click toggles the figure to twice its width inside a scrolling box; a
            # CSS checkbox toggle keeps the report one self-contained file with no script.
            # Candidates compared: Bokeh's standalone HTML gives pan/zoom but inlines BokehJS
            # into every report and needs each figure drawn a second time in a second
            # plotting library; inline SVG stays sharp at any zoom at about the size of the
            # PNG, but the embedded image would then differ from figures/NAME.png. A PNG at
            # twice the resolution is as sharp at 200 % and is the very file a slide or a
            # word processor takes, so it is used.
            img = (f'<div class="zoom"><input type="checkbox" id="zoom-{name}">'
                   f'<label for="zoom-{name}" title="click to enlarge">{img}</label></div>')
        return f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _grid(n: int, ncols: int = 2, size: tuple[float, float] = (5.2, 4.0)):
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _cx_of(ctx: _Context, comp: str) -> dict | None:
    return (ctx.crossover.get("components") or {}).get(comp)


def _each(items: list, ncols: int, size: tuple[float, float], draw: Callable) -> Any:
    """One panel per item: ``draw(item, ax)`` on a grid of ``ncols`` columns."""
    fig, axes = _grid(len(items), ncols=ncols, size=size)
    for ax, item in zip(axes, items, strict=False):
        draw(item, ax)
    return fig


def _figure_specs(ctx: _Context) -> list[tuple[str, str, Callable[[], Any]]]:
    """``(name, caption, make)`` of every figure, in page order."""
    from .plots import compare as pc
    from .plots import drt as pd
    from .plots import split as ps

    st, a, b = ctx.study, ctx.study.a, ctx.study.b
    comps = list(st.components)
    labels = [str(s) for s in ctx.fit.tree["posterior"]["spectrum"].values]
    groups = [str(g) for g in ctx.fit.tree["posterior"]["group"].values]
    true_x = (ctx.truth or {}).get("crossover_soc", {})

    def nyquist(lab, ax):
        pd.plot_nyquist(ctx.fit, spectrum=lab, ax=ax)
        ax.set_title(lab, fontsize=10)

    def band(g, ax):
        ps.plot_bands(ctx.fit, ctx.bands, group=g, ax=ax)
        ax.set_title(f"design-level DRT: {g}", fontsize=10)

    def pulses(key, ax):
        sel = (ctx.split["design"].values == key[0]) & (ctx.split["cell"].values == key[1])
        ps.plot_pulse_fits(ctx.gitt[key], ctx.split.isel(pulse=np.flatnonzero(sel)), ax=ax)
        ax.set_title(f"GITT pulse fits: {key[0]}/{key[1]}", fontsize=10)

    specs: list[tuple[str, str, Callable[[], Any]]] = [
        ("contrasts", f"Which design is lower where: the ratio R({a})/R({b}) over SOC (median, "
         f"95 % band; below the dashed line {a} is lower) and P(R({a}) < R({b})) on the right "
         "axis. The background is tinted in the colour of the design that is credibly lower.",
         lambda: _each(comps, 2, (5.6, 3.9),
                       lambda c, ax: pc.plot_contrast(ctx.soc_model, a, b, component=c, ax=ax))),
        ("crossover", "Where the curves cross, over posterior draws. A crossover SOC (median, "
         "95 % HDI) is marked only where the order of the designs credibly reverses, as in "
         "the table above.",
         lambda: _each(comps, 2, (5.2, 3.6), lambda c, ax: pc.plot_crossover(
             ctx.soc_model, a, b, component=c, ax=ax, crossover=_cx_of(ctx, c),
             truth=true_x.get(c)))),
        ("soc_curves", f"Design-level SOC curves of {a} and {b} (median, 95 % band) with the "
         "pulses' medians and the credible crossover.",
         lambda: _each(comps, 2, (5.6, 3.9), lambda c, ax: pc.plot_soc_curves(
             ctx.soc_model, a, b, component=c, split=ctx.split, ax=ax,
             crossover=_cx_of(ctx, c)))),
        ("cell_curves", "Each cell's own SOC curve (median, 95 % band) and pulses, in shades "
         "of its design's colour: how far replicate cells depart from their design.",
         lambda: _each(comps, 2, (5.6, 3.9), lambda c, ax: pc.plot_cell_curves(
             ctx.soc_model, c, split=ctx.split, ax=ax))),
        ("nyquist", "Symmetric-cell spectra (points) with the posterior-predictive median "
         "and 95 % band of the hierarchical DRT fit.",
         lambda: _each(labels, 3, (4.6, 3.8), nyquist)),
        ("residuals", "Relative residuals of each spectrum with the 95 % predictive band "
         "(one panel per spectrum, one scale for all).",
         lambda: pd.plot_residuals_grid(ctx.fit)),
        ("drt_bands", "Design-level DRTs (median, 95 % band) with the time-constant bands "
         "(shaded) and the posterior of each band boundary (histograms along the top).",
         lambda: _each(groups, 2, (5.6, 4.3), band)),
        ("gitt_fits", "GITT pulses: measured transients with the posterior band of the pulse "
         "model (Figure 4 analogue).", lambda: _each(list(ctx.gitt), 2, (5.6, 3.9), pulses)),
        ("components_vs_soc", "R1/R2/R3/total of every pulse against SOC per design and cell: "
         "medians with 95 % intervals (Figure 5 analogue).",
         lambda: ps.plot_components_vs_soc(ctx.split)),
    ]
    if "s7_eis_total" in ctx.split:
        eis_socs = _eis_socs(ctx)
        specs.append(("s7_check", "GITT total vs EIS (Fig. S7 check): each cell's GITT total "
                      "resistance against SOC (median, 95 % band; dots where the pulse passes "
                      "the check, crosses where not) and the EIS prediction, symmetric-cell "
                      "R_inf + half its polarisation developed at the pulse length (dashed, "
                      "95 % band). Triangles: SOCs of measured spectra.",
                      lambda: _each(list(dict.fromkeys(ctx.split["design"].values.astype(str))),
                                    2, (5.6, 4.2), lambda d, ax: ps.plot_s7_check(
                                        ctx.split, d, eis_socs=eis_socs.get(d, ()), ax=ax))))
    if str(ctx.fit.tree.attrs.get("method", "nuts")) == "nuts":
        # an approximate (Laplace) posterior has no chains: the panel would be empty
        specs.append(("diagnostics", "Sampler diagnostics of the EIS fit (R-hat, bulk ESS, "
                      "divergences) with the gate thresholds.",
                      lambda: pd.plot_diagnostics(ctx.fit)))
    return specs


def _eis_socs(ctx: _Context) -> dict[str, list[float]]:
    """SOCs (%) of each design's measured symmetric-cell spectra."""
    out: dict[str, set[float]] = {}
    for sp in ctx.spectra:
        soc = sp.attrs.get("soc")
        if str(sp.attrs.get("cell_type", "symmetric")) == "symmetric" and soc is not None \
                and np.isfinite(float(soc)):
            out.setdefault(str(sp.attrs.get("design", "")), set()).add(float(soc))
    return {d: sorted(v) for d, v in out.items()}


def _draw_figures(ctx: _Context, progress: Callable[[str], None] | None) -> _Figures:
    import matplotlib

    matplotlib.use("Agg", force=False)
    figs = _Figures(ctx.out_dir)
    specs = _figure_specs(ctx)
    for i, (name, caption, make) in enumerate(specs, 1):
        if progress is not None:
            progress(f"      figure {name} ({i}/{len(specs)})")
        figs.add(name, caption, make)
    return figs


# ------------------------------------------------------------------------------- tables
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(xf):
        return "–"
    return f"{xf:.{digits}g}"


def _table(rows: list[list[Any]], header: list[str], cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    # data-label: on a narrow screen a "stack" table shows each row as a card of label: value
    body = "".join(
        "<tr>" + "".join(f"<td data-label='{html.escape(str(h))}'>{html.escape(str(c))}</td>"
                         for h, c in zip(header, r, strict=False)) + "</tr>" for r in rows
    )
    # the wrapper scrolls sideways on a narrow screen instead of widening the page
    return (f"<div class='tablewrap'><table class='{cls}'><thead><tr>{th}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _definitions(items: list[tuple[str, str]]) -> str:
    return ("<dl class='defs'>" + "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items) + "</dl>")


_VERDICT_WORDS = {"crossover": "crossover", "reversal": "order reverses, SOC not located",
                  "no_difference": "no credible difference"}


def _answer_table(ctx: _Context) -> tuple[list[list[Any]], list[str], list[tuple[str, str]]]:
    """Rows, header and column definitions of the headline table."""
    a, b = ctx.study.a, ctx.study.b
    ans = ctx.answer
    true_x = (ctx.truth or {}).get("crossover_soc", {})
    rows = []
    for c in ans.components if ans else ():
        cx = _cx_of(ctx, c.component) or {}
        verdict = _VERDICT_WORDS.get(c.verdict)
        if verdict is None:  # one design lower somewhere, no reversal
            lower = max(c.p_lower, key=c.p_lower.get)
            verdict = f"{lower} lower in part, no crossover"
        soc = "; ".join(f"{x['soc_median']:.1f} [{x['hdi95'][0]:.1f}, {x['hdi95'][1]:.1f}]"
                        for x in c.crossings) or "none credible"
        row = [COMPONENT_NAMES.get(c.component, c.component), verdict, soc,
               _fmt(cx.get("p_crossing"), 2), _fmt(c.p_lower.get(a), 2),
               _fmt(c.p_lower.get(b), 2)]
        if ctx.truth is not None:
            t = true_x.get(c.component)
            row.append("none" if t is None else _fmt(t))
        rows.append(row)
    level = ans.components[0].level if ans and ans.components else 0.9
    header = ["component", "verdict", "crossover SOC / % [95 % HDI]", "P(curves cross)",
              f"highest P({a} lower)", f"highest P({b} lower)"]
    defs = [
        ("verdict", f"crossover: one design is lower below the crossover SOC and the other "
         f"above, each with posterior probability ≥ {level:g} somewhere; no credible "
         f"difference: neither design reaches that probability at any SOC."),
        ("crossover SOC / % [95 % HDI]", "posterior median of the SOC at which the two "
         "design curves cross, with its 95 % highest-density interval; stated only for a "
         "credible crossover."),
        ("P(curves cross)", "fraction of posterior draws in which the two curves cross at "
         "least once inside the SOC range both designs measured (equal curves cross often)."),
        (f"highest P({a} lower)", f"the largest posterior probability, over SOC, that "
         f"{a}'s resistance is below {b}'s."),
        (f"highest P({b} lower)", f"the same for {b} below {a}."),
    ]
    if ctx.truth is not None:
        header.append("truth / %")
        defs.append(("truth / %", "the crossover SOC the simulator built in."))
    return rows, header, defs


def _areas(ctx: _Context) -> dict[str, float | None]:
    """Electrode area of each design (cm²); None where none is given or its cells differ."""
    out: dict[str, float | None] = {}
    for d in ctx.study.designs:
        vals = {c.area_cm2 if c.area_cm2 is not None else ctx.study.area_cm2
                for c in ctx.study.cells if c.design == d}
        out[d] = vals.pop() if len(vals) == 1 and None not in vals else None
    return out


def _resistance_rows(ctx: _Context) -> tuple[list[list[Any]], list[str]]:
    """Design-level resistance at :data:`TABLE_SOCS`: ohm and, where an area is known, ohm cm²."""
    post = ctx.soc_model.tree["posterior"]
    lr = post["log_r"]
    grid = post["soc"].values
    areas = _areas(ctx)
    with_area = any(v is not None for v in areas.values())
    rows = []
    for comp in [str(c) for c in lr["component"].values]:
        for d in [str(x) for x in lr["design"].values]:
            lo_s, hi_s = ctx.soc_model.measured_range(d)
            row = [COMPONENT_NAMES.get(comp, comp), d]
            for s in TABLE_SOCS:
                if not lo_s - 1e-9 <= s <= hi_s + 1e-9:
                    row.extend(["not measured"] + ([""] if with_area else []))
                    continue
                k = int(np.argmin(np.abs(grid - s)))
                r = np.exp(lr.sel(design=d, component=comp).isel(soc=k).values.ravel())
                q = np.quantile(r, [0.5, 0.025, 0.975])
                row.append(f"{_fmt(q[0])} [{_fmt(q[1])}, {_fmt(q[2])}]")
                if with_area:
                    ar = areas.get(d)
                    row.append("–" if ar is None else
                               f"{_fmt(q[0] * ar)} [{_fmt(q[1] * ar)}, {_fmt(q[2] * ar)}]")
            rows.append(row)
    header = ["component", "design"]
    for s in TABLE_SOCS:
        header.append(f"R at {s:g} % SOC / Ω")
        if with_area:
            header.append(f"R·A at {s:g} % SOC / Ω·cm²")
    return rows, header


def _kk_rows(ctx: _Context) -> list[list[Any]]:
    rows = []
    for s in ctx.spectra:
        excl = json.loads(s.attrs.get("excluded", "[]") or "[]")
        rows.append([
            f"{s.attrs.get('design')}/{s.attrs.get('cell')}", _fmt(s.attrs.get("soc")),
            s.sizes["frequency"], f"{float(s.frequency.min()):.3g}–{float(s.frequency.max()):.3g}",
            _fmt(100 * float(s.attrs.get("kk_max_residual", np.nan)), 2),
            _fmt(100 * float(s.attrs.get("kk_limit", np.nan)), 2),
            "pass" if int(s.attrs.get("kk_pass", 1)) else "WARN", len(excl),
            Path(str(s.attrs.get("source", ""))).name,
        ])
    return rows


def _gitt_rows(ctx: _Context) -> list[list[Any]]:
    rows = []
    split = ctx.split
    for (design, cell), rec in ctx.gitt.items():
        sel = (split["design"].values == design) & (split["cell"].values == cell)
        n_unres = 0
        if "resolved" in split:
            n_unres = int((~split["resolved"].isel(pulse=np.flatnonzero(sel)).values).any(-1).sum())
        rows.append([f"{design}/{cell}", rec.sizes["time"], f"{float(rec.time[-1]) / 3600:.1f}",
                     int(sel.sum()), n_unres, Path(str(rec.attrs.get("source", ""))).name])
    return rows


def _json_attr(attrs: Any, key: str, default: Any) -> Any:
    raw = attrs.get(key, default)
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return default
    return raw if raw is not None else default


def _gate_text(gate_pass: Any, attrs: Any) -> str:
    # the gate is about MCMC; an approximate posterior neither passes nor fails it
    if str(attrs.get("method", "nuts")) != "nuts":
        return "n/a (approximate)"
    return "pass" if gate_pass else "FAIL"


def _diag_rows(ctx: _Context) -> list[list[Any]]:
    rows = []
    attrs = ctx.fit.tree.attrs
    sattrs = ctx.soc_model.tree.attrs
    for unit_attrs, label, prefix in ((attrs, WHOLE_FIT, ""),
                                      (sattrs, SOC_WHOLE_FIT, SOC_WHOLE_FIT + " ")):
        units = diagnostics_by_unit(unit_attrs.get("diagnostics"), whole_fit_label=label)
        for name, d in units.items():
            if name == SOC_WHOLE_FIT and "rhat_max" not in d:
                continue
            shown = name if name == label else prefix + name
            rows.append([shown, _fmt(d.get("rhat_max"), 4), _fmt(d.get("ess_bulk_min"), 4),
                         d.get("divergences", "–"), _gate_text(d.get("gate_pass"), unit_attrs)])
    return rows


def _fit_rows(ctx: _Context) -> list[list[Any]]:
    # the nested per-spectrum dict: summary_dict() where summary() is a tidy DataFrame
    if hasattr(ctx.fit, "summary_dict"):
        summ = ctx.fit.summary_dict()
    else:
        summ = ctx.fit.summary() if hasattr(ctx.fit, "summary") else {}
    if not isinstance(summ, dict):
        return []
    c_prior = _json_attr(ctx.fit.tree.attrs, "capacitance_prior", {})
    rows = []
    for lab, s in (summ or {}).items():
        if not isinstance(s, dict):
            continue

        def mh(key: str, s: dict = s) -> str:
            v = s.get(key) or {}
            h = v.get("hdi95") or [None, None]
            return f"{_fmt(v.get('median'))} [{_fmt(h[0])}, {_fmt(h[1])}]"

        peaks = "; ".join(f"τ={_fmt(p['tau_s']['median'], 2)} s, R={_fmt(p['r_ohm']['median'])} Ω"
                          for p in s.get("peaks", []))
        c_txt = mh("c") if s.get("c") else "–"
        known = c_prior.get(lab) if isinstance(c_prior, dict) else None
        if isinstance(known, dict):
            c_txt += (f" (prior: {_fmt(known.get('c_f'))} F, "
                      f"sd of ln C {_fmt(known.get('log_sd'), 2)})")
        verdict = s.get("trust") or {}
        rows.append([lab, mh("r_inf"), mh("r_pol"), c_txt, peaks,
                     "trusted" if verdict.get("trusted") else
                     "not trusted" if verdict else "–"])
    return rows


def _trust_notes(ctx: _Context) -> str:
    """List the reasons behind each 'not trusted' verdict, spectra with the same ones together."""
    by_words: dict[str, list[str]] = {}
    for lab, verdict in trust_of(ctx.fit).items():
        if verdict and not verdict.get("trusted"):
            by_words.setdefault(trust_words(verdict), []).append(lab)
    if not by_words:
        return ""
    items = "".join(f"<li>{html.escape(', '.join(labs))}: {html.escape(words)}</li>"
                    for words, labs in by_words.items())
    return f"<ul class='trust'>{items}</ul>"


# ------------------------------------------------------------------------------- methods
def _versions() -> dict[str, str]:
    out = {"drtbayes": __version__, "python": platform.python_version()}
    for pkg in ("pymc", "pytensor", "nutpie", "arviz", "arviz-stats", "xarray", "numpy",
                "scipy", "matplotlib", "h5netcdf", "openpyxl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _preset(attrs: Any) -> dict:
    """Parse the preset a result was made with from its ``preset_toml`` attr."""
    try:
        return tomllib.loads(str(attrs.get("preset_toml", "") or ""))
    except tomllib.TOMLDecodeError:
        return {}


def _sampler_used(attrs: Any, preset: dict, override: dict) -> dict:
    """Sampler settings actually used: the result's record, else the run's, else the preset's."""
    used = dict(preset.get("sampler", {}))
    used.update({k: v for k, v in (override or {}).items() if v is not None})
    used.update({k: v for k, v in (_json_attr(attrs, "sampler", {}) or {}).items()
                 if v is not None})
    # a SOC model saved before its ``sampler`` attr existed: chains and draws of its record
    old = diagnostics_by_unit(attrs.get("diagnostics")).get(WHOLE_FIT, {})
    for k in ("chains", "draws"):
        if "sampler" not in attrs and isinstance(old.get(k), int | float):
            used[k] = old[k]
    return used


def _sampling_words(attrs: Any, preset: dict, override: dict) -> str:
    method = str(attrs.get("method", "nuts"))
    used = _sampler_used(attrs, preset, override)
    if method != "nuts":
        fast = preset.get("fast", {})
        return (f"approximated by the posterior mode and a Laplace (Gaussian) approximation "
                f"({used.get('draws', fast.get('draws', '?'))} draws; method {method}; a "
                f"first look, not for publication)")
    gate = preset.get("gate", {})
    return (f"sampled with the No-U-Turn sampler (nutpie), {used.get('chains', '?')} chains of "
            f"{used.get('draws', '?')} draws after {used.get('tune', '?')} tuning steps, target "
            f"acceptance {used.get('target_accept', '?')}; convergence required R-hat ≤ "
            f"{gate.get('rhat_max', 1.01)} and bulk ESS ≥ {gate.get('ess_bulk_min', 400)} "
            f"(ArviZ)")


def _priors_words(preset: dict) -> str:
    pri = preset.get("priors", {})
    return ", ".join(f"{k} = {v}" for k, v in pri.items()) or "the preset's defaults"


def _methods_html(ctx: _Context) -> str:
    """Build a Methods paragraph from the saved results' own records (model, priors, sampler)."""
    fa, sa, pa = ctx.fit.tree.attrs, ctx.soc_model.tree.attrs, ctx.split.attrs
    fp, sp = _preset(fa), _preset(sa)
    v = _versions()
    fit_override = ctx.settings.get("fit", {}) if isinstance(ctx.settings, dict) else {}
    seed = ctx.settings.get("seed", fa.get("seed")) if isinstance(ctx.settings, dict) else None
    ans = ctx.answer
    level = ans.components[0].level if ans and ans.components else 0.9
    text = (
        f"Impedance spectra of symmetric cells were checked for Kramers-Kronig consistency and "
        f"fitted with a Bayesian distribution of relaxation times (drtbayes {__version__}, "
        f"preset {fa.get('preset', '?')}: {fp.get('description', '')}). Priors: "
        f"{_priors_words(fp)}. The posterior was {_sampling_words(fa, fp, fit_override)}. "
        f"Time-constant bands (processes {', '.join(ctx.study.processes)}) were located on "
        f"the design-level DRTs and used to split each GITT pulse resistance into R1 (contact "
        f"+ ohmic), R2 (charge transfer) and R3 (diffusion) (policy {pa.get('policy', '?')}, "
        f"{pa.get('n_samples', '?')} posterior samples per pulse). Resistance against SOC was "
        f"modelled per design (preset {sa.get('preset', '?')}: {sp.get('description', '')}; "
        f"priors: {_priors_words(sp)}), {_sampling_words(sa, sp, {})}. A crossover SOC is "
        f"reported where one design is lower with posterior probability ≥ {level:g} at some "
        f"SOC and the other at another; its interval is the 95 % highest-density interval "
        f"over posterior draws. Random seed {seed}. Software: PyMC {v['pymc']}, nutpie "
        f"{v['nutpie']}, ArviZ {v['arviz']}, xarray {v['xarray']}."
    )
    refs = "".join(f"<li>{html.escape(r)}</li>" for r in REFERENCES)
    return (f"<p class='methods'>{html.escape(text)}</p><p>References to cite:</p>"
            f"<ol class='refs'>{refs}</ol>")


# ------------------------------------------------------------------------------- workbook
def write_workbook(
    out_dir: Path,
    *,
    answer: Answer | None,
    answer_rows: tuple[list[list[Any]], list[str]],
    areas: dict[str, float | None],
) -> Path | None:
    """Write ``resistance.xlsx`` beside ``resistance.csv``: resistances, Ω·cm², the answer.

    Parameters
    ----------
    out_dir
        The results folder; ``resistance.csv`` there is read (None is returned without it).
    answer
        The answer in words (one sheet row per component).
    answer_rows
        Rows and header of the report's headline table.
    areas
        Electrode area per design (cm²), None where unknown: the ``ohm_cm2`` columns.

    Returns
    -------
    Path or None
        The workbook's path.
    """
    from openpyxl import Workbook

    src = out_dir / "resistance.csv"
    if not src.exists():
        return None
    with src.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    wb = Workbook()
    ws = wb.active
    ws.title = "resistance"
    head, body = table[0], table[1:]
    ws.append([*head, "area_cm2", "median_ohm_cm2", "lo95_ohm_cm2", "hi95_ohm_cm2"])
    i_d, i_s = head.index("design"), head.index("soc")
    nums = [head.index(k) for k in ("median", "lo95", "hi95")]
    for row in body:
        vals: list[Any] = list(row)
        vals[i_s] = float(row[i_s])
        for j in nums:
            vals[j] = float(row[j])
        ar = areas.get(row[i_d])
        vals += [ar, *(vals[j] * ar for j in nums)] if ar is not None else [None] * 4
        ws.append(vals)
    ws2 = wb.create_sheet("answer")
    rows, header = answer_rows
    ws2.append(["sentence", *header])
    for c, r in zip(answer.components if answer else (), rows, strict=False):
        ws2.append([c.text, *r])
    buf = io.BytesIO()
    wb.save(buf)
    path = out_dir / "resistance.xlsx"
    atomic_write_bytes(path, buf.getvalue(), force=True)
    return path


# ------------------------------------------------------------------------------- page
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;
margin:1.2em auto;padding:0 1em;color:#1d232a;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0} h2{border-bottom:2px solid #dfe3e8;padding-bottom:.2em;
margin-top:1.8em}
.tablewrap{overflow-x:auto;max-width:100%} table{border-collapse:collapse;margin:.6em 0;
font-size:.92em} th,td{border:1px solid #d5dae0;padding:.3em .6em;text-align:right}
td{white-space:nowrap} th{background:#f2f4f7} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0;text-align:center} img{max-width:100%;height:auto;border:1px solid #e4e7eb}
figcaption{font-size:.9em;color:#4a5562;margin-top:.3em}
.zoom{overflow:auto} .zoom input{display:none} .zoom label{cursor:zoom-in}
.zoom input:checked+label img{max-width:none;width:200%} .zoom input:checked+label{cursor:zoom-out}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em .9em;margin:.4em 0}
.ok{background:#eaf7ee;border-left:4px solid #2e9d55;padding:.5em .9em}
.answer{background:#f4f8fc;border-left:5px solid #1b6ca8;padding:.6em 1em;margin:.8em 0}
.answer ul{margin:.3em 0;padding-left:1.2em} .answer li{margin:.25em 0}
.meta{color:#4a5562;font-size:.92em} code{background:#f2f4f7;padding:0 .25em}
.approx{background:#fdecec;border-left:4px solid #d03030;padding:.4em .9em;font-size:.92em}
dl.defs{font-size:.9em;margin:.4em 0} dl.defs dt{font-weight:600;margin-top:.3em}
dl.defs dd{margin-left:1.2em} .methods{background:#fafbfc;border:1px solid #e4e7eb;padding:.7em}
details{margin:.8em 0} summary{cursor:pointer;font-weight:600}
pre{overflow-x:auto;font-size:.85em;background:#f6f8fa;padding:.6em}
.downloads a{margin-right:1em}
table.headline td,table.headline th{text-align:left;white-space:normal}
@media (max-width:600px){body{padding:0 .5em;font-size:15px} h1{font-size:1.3em}
table{font-size:.8em} th,td{padding:.2em .35em}
table.stack thead{display:none} table.stack,table.stack tbody{display:block}
table.stack tr{display:block;border:1px solid #d5dae0;margin:.5em 0}
table.stack td{display:flex;justify-content:space-between;gap:1em;border:0;
border-bottom:1px solid #eef0f3;text-align:right;white-space:normal}
table.stack td::before{content:attr(data-label);font-weight:600;text-align:left}}
"""


#: Pulses within this SOC distance (%) of a measured spectrum compare with an EIS prediction
#: at (almost) the measured SOC; farther ones with one carried across SOC.
S7_NEAR_SOC = 10.0


def _soc_runs(soc: np.ndarray, flag: np.ndarray) -> str:
    """Say the SOC ranges where ``flag`` holds at some pulse ("2.5-37.5 % and 97.5 %")."""
    levels = np.unique(np.round(soc, 1))
    hit = np.array([bool(flag[np.round(soc, 1) == v].any()) for v in levels])
    runs, start = [], None
    for i, h in enumerate(hit):
        if h and start is None:
            start = i
        if start is not None and (not h or i == len(hit) - 1):
            end = i if h else i - 1
            runs.append(f"{levels[start]:g} %" if start == end
                        else f"{levels[start]:g}-{levels[end]:g} %")
            start = None
    return ", ".join(runs[:-1]) + (" and " if len(runs) > 1 else "") + (runs[-1] if runs else "")


def _s7_html(ctx: _Context) -> str:
    """Say the Fig. S7 check in words: per design, do GITT and EIS agree, what the gap holds."""
    sp = ctx.split
    if "s7_eis_total" not in sp:
        return ("<p>GITT total vs EIS (Fig. S7 check): needs the process method "
                "(<code>[split] method = \"processes\"</code> in the study file); this run "
                f"split with <code>{html.escape(str(sp.attrs.get('split_method', 'bands')))}"
                "</code>.</p>")
    tol = float((_json_attr(sp.attrs, "settings", {}) or {}).get("s7_tolerance", 0.15))
    designs = sp["design"].values.astype(str)
    total = sp["resistance"].sel(component="total").values
    diff = np.median(total - sp["s7_eis_total"].values, axis=1)
    ratio = np.median(sp["s7_ratio"].values, axis=1)
    ok = sp["s7_consistent"].values.astype(bool)
    near = sp["s7_eis_soc_distance"].values <= S7_NEAR_SOC
    items = []
    for d in dict.fromkeys(designs):
        m = designs == d
        n, k = int(m.sum()), int(ok[m].sum())
        verdict = ("agrees with the EIS prediction at every pulse" if k == n else
                   "agrees with the EIS prediction at no pulse" if k == 0 else
                   f"agrees with the EIS prediction at {k} of {n} pulses")
        text = (f"<b>{html.escape(d)}</b>: the GITT total {verdict} (median GITT/EIS ratio "
                f"within {100 * tol:.0f} % of 1; ratios {ratio[m].min():.2f} to "
                f"{ratio[m].max():.2f}).")
        bad = _soc_runs(sp["soc"].values[m], ~ok[m])
        if bad:
            text += f" It disagrees at SOC {bad}."
        mn = m & near
        if mn.any():
            dn = float(np.median(diff[mn]))
            text += (f" At the {int(mn.sum())} pulses within {S7_NEAR_SOC:g} % SOC of a "
                     f"measured spectrum the GITT total is {'higher' if dn >= 0 else 'lower'} "
                     f"by {abs(dn):.3g} Ω (median), ratio {float(np.median(ratio[mn])):.2f}, "
                     f"and {int(ok[mn].sum())} of them agree.")
        else:
            text += (f" No pulse lies within {S7_NEAR_SOC:g} % SOC of a measured spectrum: "
                     "every prediction is carried across SOC.")
        items.append(f"<li>{text}</li>")
    return (
        "<h3>GITT total vs EIS (Fig. S7 check)</h3><ul>" + "".join(items) + "</ul>"
        "<p>The EIS prediction is what the symmetric cell says one electrode and the SE "
        "layer give a pulse of this length: R_inf + half the symmetric-cell polarisation "
        "developed at t_p. Agreement means the spectra and the pulses describe the same "
        "electrode. The GITT total should lie above it by what the half cell holds and the "
        "symmetric cell does not: the counter electrode (and its interface) and any difference "
        "between the two cells' SE layers, all of which the pulse's R1 contains (R1 = SE layer "
        "+ counter electrode + contact processes faster than the first sample; "
        "docs/model.md, \"Cell algebra and what R1 contains\"). A GITT total below the "
        "prediction, or above it by more than a counter electrode can explain, is a "
        "disagreement; where it appears only far from the measured SOCs, the prediction "
        "carried across SOC is the first suspect.</p>")


def _answer_html(ctx: _Context) -> str:
    ans = ctx.answer
    if ans is None or not ans.components:
        return "<div class='answer'>No crossover results to state.</div>"
    items = "".join(
        f"<li><b>{html.escape(COMPONENT_NAMES.get(c.component, c.component))}</b>: "
        f"{html.escape(c.sentence)}</li>" for c in ans.components)
    return (f"<div class='answer' id='answer'><b>{html.escape(ans.a)} vs "
            f"{html.escape(ans.b)}, resistance over SOC:</b><ul>{items}</ul></div>")


def _downloads_html(ctx: _Context) -> str:
    names = [n for n in ("resistance.csv", "resistance.xlsx", "crossover.json")
             if (ctx.out_dir / n).exists()]
    links = "".join(f"<a href='{n}' download>{n}</a>" for n in names)
    return (f"<p class='downloads'>Tables (in this report's folder): {links}</p>"
            if names else "")


def _settings_html(ctx: _Context) -> str:
    presets = "".join(
        f"<h4>preset {html.escape(str(r.tree.attrs.get('preset', '?')))}</h4>"
        f"<pre>{html.escape(str(r.tree.attrs.get('preset_toml', '')))}</pre>"
        for r in (ctx.fit, ctx.soc_model) if r.tree.attrs.get("preset_toml"))
    return (
        "<details><summary>Versions, settings, presets and input checksums</summary>"
        + _table([[k, v] for k, v in _versions().items()], ["package", "version"])
        + "<h4>run settings</h4>"
        + f"<pre>{html.escape(json.dumps(ctx.settings, indent=1, default=str))}</pre>"
        + presets + "<h4>input files (SHA-256)</h4>"
        + _table([[Path(k).name, v[:16] + "…"] for k, v in ctx.checksums.items()],
                 ["file", "sha256"])
        + "</details>")


def _page(ctx: _Context, figs: _Figures) -> str:
    """Assemble the HTML page: answer first, then evidence, checks, fits, Methods, settings."""
    st = ctx.study
    all_warn = list(ctx.warnings) + figs.failures
    warn_html = ("".join(f'<div class="warn">{html.escape(w)}</div>' for w in all_warn)
                 if all_warn else '<div class="ok">No warnings: every spectrum passed the '
                 "Kramers-Kronig check and every fit passed the diagnostics gate.</div>")
    approx = ('<div class="approx"><b>Approximate posteriors (--fast):</b> MAP + Laplace, '
              "not NUTS; for a first look only.</div>" if ctx.fast else "")
    ans_rows, ans_head, ans_defs = _answer_table(ctx)
    res_rows, res_head = _resistance_rows(ctx)
    kk_head = ["spectrum", "SOC / %", "points", "f range / Hz", "KK max residual / %",
               "KK limit / %", "KK", "excluded points", "file"]
    gitt_head = ["cell", "samples", "duration / h", "pulses", "pulses with an unresolved band",
                 "file"]
    body = [
        f"<h1>{html.escape(st.name)}</h1>", approx, _answer_html(ctx),
        _table(ans_rows, ans_head, "headline stack"), _definitions(ans_defs), _downloads_html(ctx),
        f"<p class='meta'>drtbayes {__version__} · {datetime.now(UTC):%Y-%m-%d %H:%M UTC} · "
        f"designs {html.escape(', '.join(st.designs))} · {len(st.cells)} cells · "
        f"{len(ctx.spectra)} spectra · {ctx.split.sizes.get('pulse', 0)} GITT pulses</p>",
        "<h2>Which design is lower where</h2>", figs.html("contrasts"), figs.html("crossover"),
        "<h2>Resistance against SOC</h2>", figs.html("soc_curves"),
        "<p>Design-level resistance (median [95 % interval]) from the SOC model; R·A is the "
        "resistance times the electrode area given in the study file (blank where the "
        "design's cells have no common area).</p>", _table(res_rows, res_head, "stack"),
        figs.html("cell_curves"),
        "<h2>Data checks and warnings</h2>", warn_html, "<h3>Impedance spectra</h3>",
        "<p>Kramers-Kronig check: a spectrum passes when its largest residual stays below the "
        "limit, the larger of the threshold and 4.5 x the noise estimated from the residuals' "
        "point-to-point scatter (so 1 % noise does not fail a 1 % threshold).</p>",
        _table(_kk_rows(ctx), kk_head), "<h3>GITT records</h3>",
        _table(_gitt_rows(ctx), gitt_head),
        "<h2>EIS: hierarchical DRT fit</h2>",
        _table(_fit_rows(ctx), ["spectrum", "R_inf / Ω (95 % HDI)", "R_pol / Ω (95 % HDI)",
                                "C / F (95 % HDI)", "peaks (median)", "verdict"]),
        "<p>Verdict: <i>trusted</i> when the sampler passed its gate and the fit passed every "
        "check of the data (Kramers-Kronig, posterior predictive check, residual runs along "
        "the sweep, outliers, PSIS-LOO influence of single points); a --fast fit has no "
        "sampler gate and is never trusted. The reasons are listed where it is not.</p>",
        _trust_notes(ctx),
        figs.html("nyquist"), figs.html("residuals"),
        "<h2>Time-constant bands</h2>", figs.html("drt_bands"),
        "<h2>GITT: pulse fits and the R1/R2/R3 split</h2>", figs.html("gitt_fits"),
        figs.html("components_vs_soc"), _s7_html(ctx), figs.html("s7_check"),
        "<h2>Diagnostics</h2>",
        _table(_diag_rows(ctx), ["fit", "R-hat max", "bulk ESS min", "divergences", "gate"]),
        figs.html("diagnostics"),
        "<h2>Methods</h2><p>A paragraph to adapt for a paper, built from the saved results' "
        "own records (presets, sampler settings, seed):</p>", _methods_html(ctx),
        _settings_html(ctx),
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>drtbayes report: {html.escape(st.name)}</title><style>{_CSS}</style>"
            "</head><body>\n" + "\n".join(b for b in body if b) + "\n</body></html>")


def build_report(
    out_dir: Path,
    *,
    study: Any,
    spectra: list[xr.Dataset],
    gitt: dict[tuple[str, str], xr.Dataset],
    fit: Any,
    bands: xr.Dataset,
    split: xr.Dataset,
    soc_model: Any,
    crossover: dict[str, Any] | Any,
    warnings_list: list[str],
    settings: dict[str, Any],
    checksums: dict[str, str],
    truth: dict[str, Any] | None = None,
    fast: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Draw every figure, write ``report.html`` and ``resistance.xlsx`` into ``out_dir``.

    Parameters
    ----------
    out_dir
        The results folder (``figures/`` is made inside it).
    study
        The :class:`~drtbayes.study.Study` the results come from.
    spectra, gitt, fit, bands, split, soc_model
        The run's inputs and results.
    crossover
        The :func:`drtbayes.crossover_report` result (``crossover.json``), or an object with
        ``.to_dict()`` giving it.
    warnings_list
        The run's warnings, shown under "Data checks and warnings".
    settings, checksums
        Run settings and input checksums (provenance, collapsed at the end).
    truth
        Known truth of a simulated study, marked in the table and figures.
    fast
        The posteriors are approximate (labelled as such).
    progress
        Called with one line per figure drawn (the figures take most of the time).

    Returns
    -------
    Path
        The report's path.
    """
    cx = crossover.to_dict() if hasattr(crossover, "to_dict") else crossover
    ctx = _Context(out_dir=out_dir, study=study, spectra=spectra, gitt=gitt, fit=fit,
                   bands=bands, split=split, soc_model=soc_model, crossover=cx,
                   settings=settings, checksums=checksums, truth=truth, fast=fast,
                   warnings=list(warnings_list))
    if cx and cx.get("components"):
        ctx.answer = answer_in_words(cx, study.a, study.b)
    figs = _draw_figures(ctx, progress)
    rows, header, _ = _answer_table(ctx)
    with activity("writing resistance.xlsx"):
        write_workbook(out_dir, answer=ctx.answer, answer_rows=(rows, header),
                       areas=_areas(ctx))
    path = out_dir / "report.html"
    with activity("writing report.html"):
        atomic_write_text(path, _page(ctx, figs), force=True)
    return path
