"""The study report: one self-contained HTML page plus the figures as PNG files.

The page embeds every figure (base64 PNG) so it can be mailed or archived as one file; the same
figures are written to ``figures/`` for slides and papers.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import __version__
from ._atomic import atomic_write_bytes, atomic_write_text
from .errors import DrtbayesWarning

FIG_DPI = 110


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
        fig.savefig(buf, format="png", dpi=FIG_DPI, bbox_inches="tight")
        plt.close(fig)
        png = buf.getvalue()
        atomic_write_bytes(self.dir / f"{name}.png", png, force=True)
        self.items[name] = (caption, base64.b64encode(png).decode("ascii"))

    def html(self, name: str) -> str:
        if name not in self.items:
            return ""
        caption, b64 = self.items[name]
        return (
            f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


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


def _versions() -> dict[str, str]:
    out = {"drtbayes": __version__, "python": platform.python_version()}
    for pkg in ("pymc", "pytensor", "nutpie", "arviz", "arviz-stats", "xarray", "numpy",
                "scipy", "matplotlib", "h5netcdf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _gate_text(gate_pass: Any, attrs: dict) -> str:
    # the gate is about MCMC; an approximate posterior neither passes nor fails it
    if str(attrs.get("method", "nuts")) != "nuts":
        return "n/a (approximate)"
    return "pass" if gate_pass else "FAIL"


def _table(rows: list[list[Any]], header: list[str]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


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


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1.2em;color:#1d232a;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em} h2{border-bottom:2px solid #dfe3e8;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em} th,td{border:1px solid #d5dae0;padding:.3em .6em;text-align:right}
th{background:#f2f4f7} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0;text-align:center} img{max-width:100%;border:1px solid #e4e7eb}
figcaption{font-size:.9em;color:#4a5562;margin-top:.3em}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em .9em;margin:.4em 0}
.ok{background:#eaf7ee;border-left:4px solid #2e9d55;padding:.5em .9em}
.headline{font-size:1.05em} code{background:#f2f4f7;padding:0 .25em}
.approx{background:#fdecec;border-left:4px solid #d03030;padding:.5em .9em}
"""


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
    crossover: dict[str, Any],
    warnings_list: list[str],
    settings: dict[str, Any],
    checksums: dict[str, str],
    truth: dict[str, Any] | None = None,
    fast: bool = False,
) -> Path:
    """Draw every figure and write ``report.html`` into ``out_dir``.

    Returns
    -------
    Path
        The report's path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from .plots import compare as pc
    from .plots import drt as pd
    from .plots import split as ps

    figs = _Figures(out_dir)
    labels = [str(s) for s in fit.tree["posterior"]["spectrum"].values]

    def nyquist_grid():
        fig, axes = _grid(len(labels), ncols=3, size=(4.6, 3.8))
        for ax, lab in zip(axes, labels, strict=False):
            pd.plot_nyquist(fit, spectrum=lab, ax=ax)
            ax.set_title(lab, fontsize=10)
        return fig

    figs.add("nyquist", "Symmetric-cell spectra (points) with the posterior-predictive median "
             "and 95 % band of the hierarchical DRT fit.", nyquist_grid)

    groups = [str(g) for g in fit.tree["posterior"]["group"].values]

    def bands_grid():
        fig, axes = _grid(len(groups), ncols=2, size=(5.6, 3.9))
        for ax, g in zip(axes, groups, strict=False):
            ps.plot_bands(fit, bands, group=g, ax=ax)
            ax.set_title(f"design-level DRT: {g}", fontsize=10)
        return fig

    figs.add("drt_bands", "Design-level DRTs (median, 95 % band) with the time-constant bands "
             "(shaded) and the posterior of each band boundary.", bands_grid)

    figs.add("residuals", "Relative residuals of the fits with the 95 % predictive band.",
             lambda: pd.plot_residuals(fit))

    def pulse_grid():
        keys = list(gitt)
        fig, axes = _grid(len(keys), ncols=2, size=(5.6, 3.9))
        for ax, (design, cell) in zip(axes, keys, strict=False):
            sel = (split["design"].values == design) & (split["cell"].values == cell)
            sub = split.isel(pulse=np.flatnonzero(sel))
            ps.plot_pulse_fits(gitt[(design, cell)], sub, ax=ax)
            ax.set_title(f"GITT pulse fits: {design}/{cell}", fontsize=10)
        return fig

    figs.add("gitt_fits", "GITT pulses: measured transients with the posterior band of the "
             "pulse model (Figure 4 analogue).", pulse_grid)
    figs.add("components_vs_soc", "R1/R2/R3/total of every pulse against SOC per design: "
             "medians with 95 % intervals (Figure 5 analogue).",
             lambda: ps.plot_components_vs_soc(split))

    comps = list(study.components)

    def curves_grid():
        fig, axes = _grid(len(comps), ncols=2, size=(5.6, 3.9))
        for ax, comp in zip(axes, comps, strict=False):
            pc.plot_soc_curves(soc_model, study.a, study.b, component=comp, split=split, ax=ax,
                               crossover=crossover["components"].get(comp))
        return fig

    figs.add("soc_curves", f"Design-level SOC curves of {study.a} and {study.b} (median, 95 % "
             "band) with the pulses' medians and the crossover.", curves_grid)

    def contrast_grid():
        fig, axes = _grid(len(comps), ncols=2, size=(5.6, 3.9))
        for ax, comp in zip(axes, comps, strict=False):
            pc.plot_contrast(soc_model, study.a, study.b, component=comp, ax=ax)
        return fig

    figs.add("contrasts", f"Which design wins where: ratio R({study.a})/R({study.b}) over SOC "
             f"(95 % band) and P(R_{study.a} < R_{study.b}).", contrast_grid)

    def crossover_grid():
        fig, axes = _grid(len(comps), ncols=2, size=(5.2, 3.6))
        for ax, comp in zip(axes, comps, strict=False):
            pc.plot_crossover(soc_model, study.a, study.b, component=comp, ax=ax,
                              truth=(truth or {}).get("crossover_soc", {}).get(comp))
        return fig

    figs.add("crossover", "Posterior of the crossover SOC with its 95 % HDI.", crossover_grid)
    if str(fit.tree.attrs.get("method", "nuts")) == "nuts":
        # an approximate (Laplace) posterior has no chains: the panel would be empty
        figs.add("diagnostics", "Sampler diagnostics of the EIS fit (R-hat, bulk ESS, "
                 "divergences) with the gate thresholds.", lambda: pd.plot_diagnostics(fit))

    # ---------------------------------------------------------------- tables
    cx_rows = []
    true_x = (truth or {}).get("crossover_soc", {})
    for comp, c in crossover.get("components", {}).items():
        hdi = c.get("hdi95")
        rev = c.get("reversal") or {}
        rev_txt = ("–" if not rev else
                   f"{'yes' if rev['credible'] else 'no'} "
                   f"({_fmt(rev['p_a_better_min'], 2)}–{_fmt(rev['p_a_better_max'], 2)})")
        # a median over the minority of draws that cross is no crossover SOC: shown only with
        # the HDI, i.e. when at least half the draws cross (as in the headline)
        row = [comp, _fmt(c.get("p_crossing"), 2), rev_txt,
               _fmt(c.get("soc_median")) if hdi else "no credible crossing",
               f"[{_fmt(hdi[0])}, {_fmt(hdi[1])}]" if hdi else "–",
               len(c.get("crossings", []))]
        if truth is not None:
            t = true_x.get(comp)
            row.append("none" if t is None else _fmt(t))
        cx_rows.append(row)
    cx_header = ["component", "P(cross)", "credible reversal (range of P(a better))",
                 "crossover SOC / %", "95 % HDI", "crossings"]
    if truth is not None:
        cx_header.append("truth / %")

    kk_rows = []
    for s in spectra:
        excl = json.loads(s.attrs.get("excluded", "[]") or "[]")
        kk_rows.append([
            f"{s.attrs.get('design')}/{s.attrs.get('cell')}", _fmt(s.attrs.get("soc")),
            s.sizes["frequency"], f"{float(s.frequency.min()):.3g}–{float(s.frequency.max()):.3g}",
            _fmt(100 * float(s.attrs.get("kk_max_residual", np.nan)), 2),
            _fmt(100 * float(s.attrs.get("kk_limit", np.nan)), 2),
            "pass" if int(s.attrs.get("kk_pass", 1)) else "WARN", len(excl),
            Path(str(s.attrs.get("source", ""))).name,
        ])
    gitt_rows = []
    for (design, cell), rec in gitt.items():
        sel = (split["design"].values == design) & (split["cell"].values == cell)
        n_unres = 0
        if "resolved" in split:
            n_unres = int((~split["resolved"].isel(pulse=np.flatnonzero(sel)).values).any(-1).sum())
        gitt_rows.append([f"{design}/{cell}", rec.sizes["time"],
                          f"{float(rec.time[-1]) / 3600:.1f}", int(sel.sum()), n_unres,
                          Path(str(rec.attrs.get("source", ""))).name])

    summ = fit.summary_dict() if hasattr(fit, "summary_dict") else {}
    diag_rows = []
    diag = fit.tree.attrs.get("diagnostics")
    if isinstance(diag, str):
        try:
            diag = json.loads(diag)
        except ValueError:
            diag = {}
    for name, d in (diag or {}).items():
        if isinstance(d, dict):
            diag_rows.append([name, _fmt(d.get("rhat_max"), 4), _fmt(d.get("ess_bulk_min"), 4),
                              d.get("divergences", "–"),
                              _gate_text(d.get("gate_pass"), fit.tree.attrs)])
    sdiag = soc_model.tree.attrs.get("diagnostics")
    if isinstance(sdiag, str):
        try:
            sdiag = json.loads(sdiag)
        except ValueError:
            sdiag = None
    if isinstance(sdiag, dict) and "rhat_max" in sdiag:
        diag_rows.append(["SOC model", _fmt(sdiag.get("rhat_max"), 4),
                          _fmt(sdiag.get("ess_bulk_min"), 4), sdiag.get("divergences", "–"),
                          _gate_text(sdiag.get("gate_pass"), soc_model.tree.attrs)])

    fit_rows = []
    try:
        c_prior = json.loads(fit.tree.attrs.get("capacitance_prior", "{}"))
    except (TypeError, ValueError):
        c_prior = {}
    if isinstance(summ, dict):
        for lab, s in summ.items():
            if not isinstance(s, dict):
                continue

            def mh(key: str, s: dict = s) -> str:
                v = s.get(key) or {}
                h = v.get("hdi95") or [None, None]
                return f"{_fmt(v.get('median'))} [{_fmt(h[0])}, {_fmt(h[1])}]"

            peaks = "; ".join(
                f"τ={_fmt(p['tau_s']['median'], 2)} s, R={_fmt(p['r_ohm']['median'])} Ω"
                for p in s.get("peaks", [])
            )
            c_txt = mh("c") if s.get("c") else "–"
            known = c_prior.get(lab) if isinstance(c_prior, dict) else None
            if isinstance(known, dict):
                c_txt += (f" (prior: {_fmt(known.get('c_f'))} F, "
                          f"sd of ln C {_fmt(known.get('log_sd'), 2)})")
            fit_rows.append([lab, mh("r_inf"), mh("r_pol"), c_txt, peaks])

    # ---------------------------------------------------------------- page
    all_warn = list(warnings_list) + figs.failures
    warn_html = (
        "".join(f'<div class="warn">{html.escape(w)}</div>' for w in all_warn)
        if all_warn else '<div class="ok">No warnings: every spectrum passed the Kramers-Kronig '
        "check and every fit passed the diagnostics gate.</div>"
    )
    approx = (
        '<div class="approx"><b>Approximate posteriors (--fast):</b> MAP + Laplace instead of '
        "NUTS. Use for a first look only; rerun without --fast for reportable intervals.</div>"
        if fast else ""
    )
    designs = ", ".join(study.designs)
    n_pulses = split.sizes.get("pulse", 0)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>drtbayes report: {html.escape(study.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(study.name)}</h1>",
        f"<p>drtbayes {__version__} · {datetime.now(UTC):%Y-%m-%d %H:%M UTC} · designs: "
        f"{html.escape(designs)} · {len(study.cells)} cells · {len(spectra)} spectra · "
        f"{n_pulses} GITT pulses · comparison <b>{html.escape(study.a)}</b> vs "
        f"<b>{html.escape(study.b)}</b></p>",
        approx,
        "<h2>Headline: where do the designs cross?</h2>",
        f"<p class='headline'>Posterior of the SOC at which R({html.escape(study.a)}) and "
        f"R({html.escape(study.b)}) cross, per resistance component. A 95 % HDI is given when "
        "the curves cross in at least half of the posterior draws.</p>",
        _table(cx_rows, cx_header),
        figs.html("contrasts"),
        figs.html("crossover"),
        "<h2>Data checks and warnings</h2>",
        warn_html,
        "<h3>Impedance spectra</h3>",
        "<p>Kramers-Kronig check: a spectrum passes when its largest residual stays below the "
        "limit, the larger of the threshold and 4.5 x the noise estimated from the residuals' "
        "point-to-point scatter (so 1 % noise does not fail a 1 % threshold).</p>",
        _table(kk_rows, ["spectrum", "SOC / %", "points", "f range / Hz", "KK max residual / %",
                         "KK limit / %", "KK", "excluded points", "file"]),
        "<h3>GITT records</h3>",
        _table(gitt_rows, ["cell", "samples", "duration / h", "pulses", "pulses with an "
                           "unresolved band", "file"]),
        "<h2>EIS: hierarchical DRT fit</h2>",
        _table(fit_rows, ["spectrum", "R_inf / Ω (95 % HDI)", "R_pol / Ω (95 % HDI)",
                          "C / F (95 % HDI)", "peaks (median)"]),
        figs.html("nyquist"),
        figs.html("residuals"),
        "<h2>Time-constant bands</h2>",
        figs.html("drt_bands"),
        "<h2>GITT: pulse fits and the R1/R2/R3 split</h2>",
        figs.html("gitt_fits"),
        figs.html("components_vs_soc"),
        "<h2>Resistance against SOC</h2>",
        figs.html("soc_curves"),
        "<h2>Diagnostics</h2>",
        _table(diag_rows, ["fit", "R-hat max", "bulk ESS min", "divergences", "gate"]),
        figs.html("diagnostics"),
        "<h2>Versions and settings</h2>",
        _table([[k, v] for k, v in _versions().items()], ["package", "version"]),
        f"<pre>{html.escape(json.dumps(settings, indent=1, default=str))}</pre>",
        "<h3>Input files (SHA-256)</h3>",
        _table([[Path(k).name, v[:16] + "…"] for k, v in checksums.items()], ["file", "sha256"]),
        "</body></html>",
    ]
    path = out_dir / "report.html"
    atomic_write_text(path, "\n".join(parts), force=True)
    return path
