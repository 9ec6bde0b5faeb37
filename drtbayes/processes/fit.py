"""``fit_processes``: the process model fitted to symmetric-cell spectra, pooled across cells.

Fitted to the data, with the DRT as its check (not to the DRT posterior): the DRT posterior is
itself a smoothed, regularised summary whose shape (tails, Warburg ladder lines) is exactly
what the process model must not inherit, and its draws are correlated over tau in a way a
second-stage likelihood would have to model. The spectra are the independent information; the
DRT of the same spectra then checks the process model (:func:`drt_check`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import xarray as xr

from ..errors import DataError
from ..inference.threads import one_blas_thread
from .fast import fit_group_laplace
from .model import CANDIDATES, ROLES, candidate

R1_CONTAINS = ("R1 (half-cell pulse) = SE layer + counter electrode + every process the pulse "
               "sees as instantaneous (contact processes faster than the first sample); "
               "the symmetric-cell r_inf is the SE layer (+ SE|SE interface, leads)")


def _as_stack(spectra: xr.Dataset | Sequence[xr.Dataset]) -> xr.Dataset:
    if isinstance(spectra, xr.Dataset) and "spectrum" in spectra.dims:
        return spectra
    items = [spectra] if isinstance(spectra, xr.Dataset) else list(spectra)
    if not items:
        raise DataError("fit_processes: no spectra given")
    from ..io import stack_spectra

    if len(items) == 1:
        s = items[0]
        st = s.expand_dims(spectrum=[f"{s.attrs.get('design', '')}/{s.attrs.get('cell', '')}"])
        for key in ("design", "cell", "soc", "cell_type"):
            st = st.assign_coords({key: ("spectrum", [s.attrs.get(key, "")])})
        return st
    return stack_spectra(items)


def _groups(stack: xr.Dataset) -> list[tuple[str, float, np.ndarray]]:
    design = np.asarray(stack["design"].values).astype(str)
    soc = np.asarray(stack["soc"].values, float)
    keys = sorted({(d, float(s)) for d, s in zip(design, soc, strict=True)},
                  key=lambda k: (k[0], np.nan_to_num(k[1], nan=-1.0)))
    out = []
    for d, s in keys:
        sel = (design == d) & ((soc == s) | (np.isnan(soc) & math.isnan(s)))
        out.append((d, s, np.flatnonzero(sel)))
    return out


# over 80 lines: the candidates' fits, their evidence weights, the role probabilities and the
# chosen candidate's draws are one pass over the same per-group fits; a third is the docstring
def fit_processes(
    spectra: xr.Dataset | Sequence[xr.Dataset],
    *,
    candidates: Sequence[str] | None = None,
    n_samples: int = 400,
    seed: int = 0,
    cell_sd: float = 0.1,
) -> xr.Dataset:
    """Fit the process model to symmetric-cell spectra (Laplace fast path).

    Spectra sharing a design and an SOC form a group: the group holds the design-level process
    parameters, each cell deviates in ``ln r_inf`` and every ``ln R`` with sd ``cell_sd``. The
    number of processes is chosen by the Laplace evidence summed over the groups, among
    ``candidates`` (keys of :data:`drtbayes.processes.model.CANDIDATES`; default all).

    Parameters
    ----------
    spectra
        Spectrum Datasets or a stack (``cell_type`` symmetric).
    candidates
        Names of the candidate element sets to compare.
    n_samples
        Posterior draws per group.
    seed
        Seed of the draws.
    cell_sd
        Prior sd of the cells' log deviations.

    Returns
    -------
    xr.Dataset
        ``r_inf`` (sample, group), ``process_r`` (sample, group, process) (symmetric-cell
        resistance, ohm; for the diffusion element R_diff = R_W / 3), ``process_tau`` (s; tau_D
        for diffusion), ``process_phi`` (ZARC exponent, NaN for diffusion), ``l_h``;
        ``rmse_rel`` (spectrum); coords ``group_design``, ``group_soc``, ``process_role``,
        ``process_kind``. Attrs: ``drtbayes_kind = "process_fit"``, ``model`` (chosen
        candidate), ``model_probability`` (JSON candidate -> posterior probability),
        ``p_label`` (JSON process -> P(the labelling of that element is right)), ``r1_contains``,
        ``inference = "laplace"``.
    """
    stack = _as_stack(spectra)
    types = set(np.asarray(stack["cell_type"].values).astype(str)) if "cell_type" in stack.coords \
        else {"symmetric"}
    if types - {"symmetric", ""}:
        raise DataError(f"fit_processes: spectra of cell type {sorted(types)}; the process model "
                        "holds the symmetric-cell algebra (SE + 2 x electrode); fit only "
                        "symmetric-cell spectra")
    names = list(candidates) if candidates is not None else list(CANDIDATES)
    freq = np.asarray(stack["frequency"].values, float)
    z = np.asarray(stack["z_real"].values, float) + 1j * np.asarray(stack["z_imag"].values, float)
    groups = _groups(stack)
    inductance = bool(np.nanmax(z.imag[:, :3]) > 0)
    fits: dict[str, list[dict]] = {}
    for name in names:
        fits[name] = []
        for _d, _s, idx in groups:
            m = candidate(name, inductance=inductance, n_cells=idx.size)
            keep = np.any(np.isfinite(z[idx]), axis=0)
            # one BLAS thread: an optimiser amplifies the last bits of threaded sums
            with one_blas_thread():
                fit = fit_group_laplace(m, freq[keep], z[idx][:, keep], cell_sd=cell_sd)
            fits[name].append({"model": m, "keep": keep, **fit})
    log_ev = {n: float(sum(f["log_evidence"] for f in fits[n])) for n in names}
    mx = max(log_ev.values())
    w = {n: math.exp(v - mx) for n, v in log_ev.items()}
    tot = sum(w.values())
    prob = {n: w[n] / tot for n in names}
    best_overall = max(names, key=lambda n: log_ev[n])
    labelled = [n for n in names if "ambiguous" not in [r for _, r in CANDIDATES[n]]]
    if not labelled:
        raise DataError("fit_processes: no candidate with one element per role was compared; "
                        f"add one of {[n for n in CANDIDATES if 'ambiguous' not in n]}")
    chosen = max(labelled, key=lambda n: log_ev[n])
    roles = [r for _, r in CANDIDATES[chosen]]
    kinds = [k for k, _ in CANDIDATES[chosen]]
    # P(label): the probability of the candidates in which an element of this role exists
    # exactly once (within a set the ZARC roles follow the tau order); a candidate with an
    # ambiguous element counts against every ZARC role
    p_label = {}
    for r in ROLES:
        p_label[r] = float(sum(prob[n] for n in names
                               if [x for _, x in CANDIDATES[n]].count(r) == 1
                               and (r == "diffusion" or "ambiguous" not in
                                    [x for _, x in CANDIDATES[n]])))
    rng = np.random.default_rng(seed)
    n_g, n_p = len(groups), len(kinds)
    r_inf = np.zeros((n_samples, n_g))
    l_h = np.zeros((n_samples, n_g))
    pr = np.zeros((n_samples, n_g, n_p))
    pt = np.zeros((n_samples, n_g, n_p))
    pp = np.zeros((n_samples, n_g, n_p))
    rmse = np.full(stack.sizes["spectrum"], np.nan)
    for g, f in enumerate(fits[chosen]):
        m = f["model"]
        cov = 0.5 * (f["cov"] + f["cov"].T)
        th = rng.multivariate_normal(f["theta"], cov, size=n_samples, method="eigh")
        for s in range(n_samples):
            u = m.unpack(th[s])
            r_inf[s, g] = math.exp(u["ln_r_inf"])
            l_h[s, g] = u["l_h"]
            pr[s, g] = np.exp(u["ln_r"])
            pt[s, g] = u["tau"]
            pp[s, g] = u["phi"]
        # roles follow the tau order of the ZARCs at the mode (an optimiser may have swapped
        # two elements between their starts): permute the ZARC slots of this group's draws
        u0 = m.unpack(f["theta"])
        zs = [j for j, k in enumerate(kinds) if k == "zarc"]
        perm = np.arange(n_p)
        perm[zs] = np.array(zs)[np.argsort(u0["tau"][zs])]
        pr[:, g], pt[:, g], pp[:, g] = pr[:, g][:, perm], pt[:, g][:, perm], pp[:, g][:, perm]
        rmse[groups[g][2]] = f["rmse_rel"]
    labels = [f"{r}" if roles.count(r) == 1 else f"{r}_{roles[:j + 1].count(r)}"
              for j, r in enumerate(roles)]
    ds = xr.Dataset(
        {
            "r_inf": (("sample", "group"), r_inf, {"units": "ohm"}),
            "l_h": (("sample", "group"), l_h, {"units": "H"}),
            "process_r": (("sample", "group", "process"), pr,
                          {"units": "ohm", "long_name": "symmetric-cell process resistance"}),
            "process_tau": (("sample", "group", "process"), pt, {"units": "s"}),
            "process_phi": (("sample", "group", "process"), pp),
            "rmse_rel": ("spectrum", rmse, {"long_name": "rms |Z_model - Z| / |Z| at the MAP"}),
        },
        coords={
            "sample": np.arange(n_samples),
            "group": [f"{d}/soc{s:g}" for d, s, _ in groups],
            "group_design": ("group", np.array([d for d, _, _ in groups], dtype=object)),
            "group_soc": ("group", np.array([s for _, s, _ in groups], float)),
            "process": labels,
            "process_role": ("process", np.array(roles, dtype=object)),
            "process_kind": ("process", np.array(kinds, dtype=object)),
            "spectrum": np.asarray(stack["spectrum"].values),
        },
    )
    ds.attrs.update({
        "drtbayes_kind": "process_fit",
        "cell_type": "symmetric",
        "model": chosen,
        "model_best_evidence": best_overall,
        "model_log_evidence": json.dumps(log_ev),
        "model_probability": json.dumps(prob),
        "p_label": json.dumps(p_label),
        "r1_contains": R1_CONTAINS,
        "inference": "laplace",
        "seed": seed,
        "cell_sd": cell_sd,
        "f_min_hz": float(np.nanmin(freq)),
        "f_max_hz": float(np.nanmax(freq)),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return ds
