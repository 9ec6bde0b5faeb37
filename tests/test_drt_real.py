"""DRT fits of the shared real measurements (../shared/data/real; skipped when absent).

Each figure asserted has a physical or independent reason:

* R_inf is not above the smallest measured Z' (every process adds a positive real part; a
  little slack for the noise of that point), among the points the Kramers-Kronig check accepts
  (the BioLogic file has one point at 56 Hz, 8 % of |Z| off the KK fit, 6 ohm below R_inf,
  which pyDRTtools and pyimpspec put at 63.6 ohm too);
* peak positions agree with what pyDRTtools (ridge + GCV) and pyimpspec (TR-RBF) give on the
  same points (NOTICE.md), within 0.2 decade: the peers agree with each other to ~0.05 decade
  on clean spectra and a Laplace fit's peak moves by ~0.1 decade against NUTS on these files;
* a blocking spectrum gets no DRT R_pol.

Fast set: MAP + Laplace fits of two files; the rest (and NUTS) under ``-m slow``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"

#: file -> peer peak taus (s) from NOTICE.md
PEER_PEAKS = {
    # the peers' slow peak at 10.7 s is not asserted: drtbayes puts it at 42 s (NUTS and
    # Laplace), next to the window's end (53 s) where the series C and the tail trade; see
    # test_real_slow_peak_of_exampledata (xfail) and docs/validation.md, "Real measurements"
    "impedancepy/exampleData.csv": [0.027],
    "impedancepy/exampleDataBioLogic.mpt": [0.44],
    "pydrttools/LIB_data.txt": [0.146],
    "hybriddrt/PEIS_SSB.mpr": [3.1],
}
PEAK_TOL_DECADES = 0.2


def _fit(name: str, fast: bool = True):
    import drtbayes

    path = REAL / name
    if not path.is_file():
        pytest.skip(f"shared real data not found at {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = drtbayes.read_spectrum(path)
        if "spectrum" in spec.dims:
            spec = spec.isel(spectrum=0)
        res = drtbayes.fit_drt(spec, "drt-single", fast=fast, progress=False, seed=0)
    return spec, res, res.summary_dict()[res.spectra[0]]


def _kk_accepted_min_re(spec) -> float:
    """Smallest Z' among points whose KK residual is within the check's limit."""
    from drtbayes.io.kk import kk_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kk = kk_check(spec)
    res = np.maximum(np.abs(kk["kk_res_real"].values), np.abs(kk["kk_res_imag"].values))
    ok = res <= kk.attrs["kk_limit"]
    return float(np.nanmin(spec["z_real"].values[ok]))


def _check(name: str, fast: bool) -> None:
    spec, _, e = _fit(name, fast)
    zr = spec["z_real"].values
    min_re = _kk_accepted_min_re(spec)
    assert e["r_inf"]["median"] <= min_re + 0.01 * float(np.nanmedian(np.abs(zr))), (
        e["r_inf"], min_re)
    found = np.log10([p["tau_s"]["median"] for p in e["peaks"]])
    for peer in PEER_PEAKS[name]:
        gap = float(np.min(np.abs(found - np.log10(peer)))) if found.size else np.inf
        assert gap <= PEAK_TOL_DECADES, (name, peer, 10**found)


@pytest.mark.parametrize("name", ["impedancepy/exampleDataBioLogic.mpt",
                                  "impedancepy/exampleData.csv"])
def test_real_fast_fit_against_peers(name):
    """R_inf below min Z', peaks where the peers put them (Laplace fit)."""
    _check(name, fast=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PEER_PEAKS))
def test_real_nuts_fit_against_peers(name):
    """The same with NUTS on every file the peers measured."""
    _check(name, fast=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pydrttools/LIB_data.txt", "hybriddrt/PEIS_SSB.mpr"])
def test_real_fast_fit_against_peers_more_files(name):
    """The Laplace check on the remaining peer-measured files."""
    _check(name, fast=True)


@pytest.mark.slow
@pytest.mark.xfail(reason="open: drtbayes' slow peak at 42 s against the peers' 10.7 s "
                   "(window end 53 s; series C and the tail trade there)", strict=False)
def test_real_slow_peak_of_exampledata():
    """The peers' slow peak of exampleData.csv (10.7 s) within 0.2 decade (NUTS)."""
    _, _, e = _fit("impedancepy/exampleData.csv", fast=False)
    found = np.log10([p["tau_s"]["median"] for p in e["peaks"]])
    assert np.min(np.abs(found - np.log10(10.7))) <= PEAK_TOL_DECADES
