"""Table of bad inputs: every one gives a specific DataError (file/row/fix in the message) or a
specific warning plus a correct result. Nothing is silently changed."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_io_synth import log_freqs, synth_gitt, zarc_spectrum

import drtbayes.io as dio
from drtbayes.errors import (
    CapacityError,
    ColumnError,
    DataWarning,
    DuplicateError,
    EmptyFileError,
    EncodingError,
    FileFormatError,
    NoPulsesError,
    SignConventionError,
    StudyFileError,
    TimeOrderError,
    TooFewPointsError,
    TruncatedFileError,
    UnitError,
    ValueRangeError,
)
from drtbayes.io import _text
from drtbayes.study import load_study

DATA = Path(__file__).parent / "data"
F = log_freqs(1e5, 0.1, 6)
Z = zarc_spectrum(F)
FL, ZL = F.tolist(), Z.tolist()  # plain floats: their repr is a number in any numpy


def eis_lines(f=F, z=Z, header="frequency_hz,z_real_ohm,z_imag_ohm", sep=","):
    return [header] + [f"{a!r}{sep}{b.real!r}{sep}{b.imag!r}"
                       for a, b in zip(f.tolist(), z.tolist(), strict=True)]


def eis_text(**kw) -> str:
    return "\n".join(eis_lines(**kw)) + "\n"


def with_row(k: int, row: str) -> str:
    lines = eis_lines()
    lines[k + 1] = row
    return "\n".join(lines) + "\n"


T, I, V, _ = synth_gitt(n_pulses=3, rest_s=1800.0, sample_period_s=120.0, charge_first=False,
                        n_log=6)


def gitt_text(t=T, i=I, v=V, header="time_s,current_a,voltage_v") -> str:
    return header + "\n" + "\n".join(
        f"{a!r},{b!r},{c!r}" for a, b, c in zip(t.tolist(), i.tolist(), v.tolist(),
                                                strict=True)) + "\n"


def mpt_text(n_header: int, body_lines: int) -> str:
    head = ["EC-Lab ASCII FILE", f"Nb header lines : {n_header}"]
    head += ["Cs/\xb5F info"] * (n_header - 3)
    lines = eis_lines(header="freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm", sep="\t")
    return "\n".join(head + lines[: body_lines + 1]) + "\n"


def mpt_ok_text() -> str:
    head = ["EC-Lab ASCII FILE", "Nb header lines : 4", "Electrode surface area : 1 cm\xb2"]
    rows = [f"{a!r}\t{b.real!r}\t{-b.imag!r}" for a, b in zip(F.tolist(), Z.tolist(),
                                                             strict=True)]
    return "\n".join(head + ["freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm"] + rows) + "\n"


def spectrum(path, **kw):
    return dio.read_spectrum(path, **kw)


def spectra(path, **kw):
    return dio.read_spectra(path, **kw)


def gitt(path, **kw):
    return dio.read_gitt(path, **kw)


def pulses(path, **kw):
    cap = kw.pop("capacity_mah", None)
    return dio.detect_pulses(dio.read_gitt(path, **kw), capacity_mah=cap)


def _excluded(ds):
    return json.loads(ds.attrs["excluded"])


nan_text = with_row(5, f"{FL[5]!r},nan,{ZL[5].imag!r}")
dup_identical = "\n".join(eis_lines() + [eis_lines()[6]]) + "\n"
dup_differs = "\n".join(eis_lines() + [f"{FL[5]!r},1.0,-1.0"]) + "\n"
mpr_bytes = (DATA / "eis_peis_2loops.mpr").read_bytes()
gitt_mv = gitt_text(v=V * 1000)
two_loops = mpt_ok_text() + "".join(
    f"{a!r}\t{b.real!r}\t{-b.imag!r}\n" for a, b in zip(F[:5].tolist(), Z[:5].tolist(),
                                                       strict=True))

latin1_csv = ("Frequency (Hz);Z' (Ohm);Z'' (Ohm);T (\xb0C)\n" + "".join(
    f"{a!r};{b.real!r};{b.imag!r};25\n" for a, b in zip(FL, ZL, strict=True))).encode("latin-1")
polar_rad = "freq/Hz,|Z|/Ohm,Phase/rad\n" + "".join(
    f"{a!r},{abs(b)!r},{float(np.angle(b))!r}\n" for a, b in zip(FL, ZL, strict=True))
latin1_gitt_ua = ("time/s,<I>/\xb5A,Ewe/V\n" + "".join(
    f"{a!r},{b * 1e6!r},{c!r}\n" for a, b, c in zip(T.tolist(), I.tolist(), V.tolist(),
                                                    strict=True))).encode("latin-1")
# pulse 1 is followed at once by pulse 2 (at 1.5x the current), with no rest in between
NO_REST = synth_gitt(n_pulses=4, rest_s=1800.0, sample_period_s=120.0, charge_first=False,
                     n_log=6, no_rest_after=(1,))


def huge_file(head: bytes):
    """Content writer: a sparse file one byte over the reader limit (no disk space used)."""
    def write(path: Path) -> None:
        with open(path, "wb") as fh:
            fh.write(head)
            fh.truncate(_text.MAX_FILE_BYTES + 1)
    return write


STUDY = """[study]
name = "s"
capacity_mah = 2.0

[compare]
a = "A"
b = "B"

[[cells]]
design = "A"
cell = "a1"
gitt = "a1.csv"
eis = [{ file = "a1_50.csv", soc = 50 }]

[[cells]]
design = "B"
cell = "b1"
gitt = "b1.csv"
eis = [{ file = "b1_50.csv", soc = 50 }]
"""


def study_files(text: str | bytes, *, encoding: str = "utf-8", skip: tuple[str, ...] = ()):
    """Content writer: the study file plus the data files it names (except ``skip``)."""
    def write(path: Path) -> None:
        for rel in ("a1.csv", "b1.csv", "a1_50.csv", "b1_50.csv"):
            if rel not in skip:
                (path.parent / rel).write_text("x\n")
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return write


# (id, file name, content, reader, kwargs, expected class, message fragment, result check);
# content is text, bytes, or a callable that writes the file (and any files it refers to)
CASES = [
    ("nan-row", "s.csv", nan_text, spectrum, {}, DataWarning, "NaN values left out",
     lambda ds: ds.sizes["frequency"] == F.size - 1
     and _excluded(ds) == [{"row": 7, "frequency": F[5], "reason": "NaN"}]),
    ("inf-value", "s.csv", with_row(3, f"{FL[3]!r},inf,-1.0"), spectrum, {}, ValueRangeError,
     "line 5: real part is inf", None),
    ("zero-frequency", "s.csv", with_row(36, f"0,{ZL[36].real!r},{ZL[36].imag!r}"), spectrum, {},
     ValueRangeError, "line 38: frequency 0 Hz is not positive", None),
    ("negative-frequency", "s.csv", with_row(2, f"-5,{ZL[2].real!r},{ZL[2].imag!r}"), spectrum,
     {}, ValueRangeError, "not positive", None),
    ("duplicate-differs", "s.csv", dup_differs, spectrum, {}, DuplicateError,
     "same frequency", None),
    ("duplicate-identical", "s.csv", dup_identical, spectrum, {}, None, "",
     lambda ds: ds.sizes["frequency"] == F.size
     and _excluded(ds)[0]["reason"] == "duplicate of line 7"),
    ("flipped-imag-sign", "s.csv", eis_text(z=Z.conj()), spectrum, {}, SignConventionError,
     "imag_sign='flip'", None),
    ("flipped-imag-sign-fixed", "s.csv", eis_text(z=Z.conj()), spectrum,
     {"imag_sign": "flip"}, None, "", lambda ds: np.allclose(ds["z_imag"].values, Z.imag)),
    ("negated-real-unmarked", "s.csv", eis_text(z=-Z.conj()), spectrum, {},
     SignConventionError, "real column probably holds -Z'", None),
    ("single-point", "s.csv", "\n".join(eis_lines()[:2]) + "\n", spectrum, {},
     TooFewPointsError, "1 usable point", None),
    ("nine-points", "s.csv", "\n".join(eis_lines()[:10]) + "\n", spectrum, {},
     TooFewPointsError, "at least 10", None),
    ("empty-file", "s.csv", "", spectrum, {}, EmptyFileError, "file is empty", None),
    ("blank-lines-only", "s.csv", "\n \n\t\n", spectrum, {}, EmptyFileError, "empty", None),
    ("header-only", "s.csv", "frequency_hz,z_real_ohm,z_imag_ohm\n", spectrum, {},
     EmptyFileError, "no numeric data rows", None),
    ("unknown-columns", "s.csv", eis_text(header="a,b,c"), spectrum, {}, ColumnError,
     "columns found: 'a', 'b', 'c'. Accepted names", None),
    ("no-header", "s.csv", "\n".join(eis_lines()[1:]) + "\n", spectrum, {}, ColumnError,
     "without a header line", None),
    ("text-in-number", "s.csv", with_row(4, f"{FL[4]!r},12.x,-3"), spectrum, {},
     FileFormatError, "line 6, column 'z_real_ohm': '12.x' is not a number", None),
    ("wrong-unit-quantity", "s.csv", eis_text(header="freq/V,Z',Z''"), spectrum, {},
     UnitError, "'V' is not a frequency unit", None),
    ("comma-sep-decimal-comma", "s.csv", "f,Z',Z''\n" + "\n".join(
        f"{str(round(a, 2)).replace('.', ',')},1,5,-2,5" for a in FL) + "\n", spectrum, {},
     FileFormatError, "use ';' or tab", None),
    ("truncated-csv", "s.csv", eis_text()[:-30], spectrum, {}, TruncatedFileError,
     "cut short", None),
    ("truncated-mpt-header", "s.mpt", mpt_text(68, 0)[:300], spectrum, {}, TruncatedFileError,
     "announces 68 header lines", None),
    ("mpt-bad-line-2", "s.mpt", "EC-Lab ASCII FILE\nNb of lines: 3\n", spectrum, {},
     FileFormatError, "Nb header lines", None),
    ("mpt-latin1-header-ok", "s.mpt", mpt_ok_text().encode("latin-1"), spectrum, {}, None, "",
     lambda ds: ds.sizes["frequency"] == F.size and ds.attrs["imag_sign_detected"] == "-Z''"),
    ("mpt-aborted-last-loop", "s.mpt", two_loops, spectra, {}, DataWarning, "aborted sweep",
     lambda sp: len(sp) == 1 and sum(e["reason"].startswith("aborted")
                                     for e in _excluded(sp[0])) == 5),
    ("utf16-csv-ok", "s.csv", eis_text().encode("utf-16"), spectrum, {}, None, "",
     lambda ds: ds.sizes["frequency"] == F.size),
    ("binary-garbage-as-csv", "s.csv", b"\x00\x01\x02PK\x03\x04" * 50, spectrum, {},
     EncodingError, "not a text export", None),
    ("truncated-mpr", "s.mpr", mpr_bytes[: len(mpr_bytes) // 2], spectrum, {},
     TruncatedFileError, "cut short", None),
    ("mpr-signature-only", "s.mpr", mpr_bytes[:60], spectrum, {}, TruncatedFileError,
     "cut short", None),
    ("mpr-corrupt-module", "s.mpr", mpr_bytes[:52] + b"NOTAMODULE" + mpr_bytes[62:], spectrum,
     {}, FileFormatError, "galvani cannot parse", None),
    ("dta-chronop-as-spectrum", "s.DTA", (DATA / "gitt_chronop.DTA").read_bytes(), spectrum,
     {}, ColumnError, "use read_gitt", None),
    ("dta-truncated-table", "s.DTA", (DATA / "gitt_chronop.DTA").read_bytes()[:3000], gitt, {},
     TruncatedFileError, "cut short", None),
    ("dta-no-explain", "s.DTA", b"TAG\tEISPOT\n", spectrum, {}, FileFormatError, "EXPLAIN",
     None),
    # GITT records
    ("gitt-time-backwards", "g.csv", gitt_text(t=np.concatenate([T[:50], T[50:] - 100.0])),
     gitt, {}, TimeOrderError, "line 52: time goes back", None),
    ("gitt-nan-row", "g.csv", gitt_text(v=np.where(np.arange(V.size) == 7, np.nan, V)), gitt,
     {}, DataWarning, "NaN values left out",
     lambda g: g.sizes["time"] == T.size - 1 and _excluded(g)[0]["row"] == 9),
    ("gitt-inf", "g.csv", gitt_text(i=np.where(np.arange(I.size) == 7, np.inf, I)), gitt, {},
     ValueRangeError, "line 9: current is inf", None),
    ("gitt-missing-voltage", "g.csv", "time_s,current_a\n0,0\n1,0\n", gitt, {}, ColumnError,
     "cannot find the voltage column", None),
    ("gitt-no-pulses", "g.csv", gitt_text(i=np.zeros_like(I)), pulses, {}, NoPulsesError,
     "no pulses", None),
    ("gitt-capacity-contradiction", "g.csv", gitt_text(), pulses, {"capacity_mah": 0.02},
     CapacityError, "more than 1.2x the capacity", None),
    ("gitt-ma-read-as-a", "g.csv", gitt_text(i=I * 1000, header="time_s,current,voltage_v"),
     pulses, {"capacity_mah": 2.0}, UnitError, "current_unit='mA'", None),
    ("gitt-ma-fixed-by-current-unit", "g.csv",
     gitt_text(i=I * 1000, header="time_s,current,voltage_v"), pulses,
     {"capacity_mah": 2.0, "current_unit": "mA"}, None, "",
     lambda p: np.allclose(p["soc"].values, [99.5, 98.5, 97.5])),
    ("gitt-unit-conflict", "g.csv", gitt_text(header="time/s,I/mA,Ewe/V"), gitt,
     {"current_unit": "A"}, UnitError, "says mA but current_unit='A'", None),
    ("gitt-voltage-in-mv", "g.csv", gitt_mv, gitt, {}, UnitError, "probably in mV", None),
    ("gitt-current-sign-reversed", "g.csv", gitt_text(i=-I), pulses, {}, SignConventionError,
     "current_sign='flip'", None),
    ("gitt-bad-capacity", "g.csv", gitt_text(), gitt, {"capacity_mah": -1.0}, ValueRangeError,
     "capacity_mah=-1.0 must be > 0", None),
    ("gitt-hours-and-ma-units", "g.csv", gitt_text(t=T / 3600, i=I * 1e3,
                                                    header="time/h,<I>/mA,Ewe/V"),
     pulses, {"capacity_mah": 2.0}, None, "",
     lambda p: np.allclose(p["current_a"].values, -1e-3)
     and np.allclose(p["t_start"].values[0], 600.0)),
    # --- added for issue 9: units, encodings, huge files, pulses without rest, study files
    ("csv-latin1-header", "s.csv", latin1_csv, spectrum, {}, None, "",
     lambda ds: ds.sizes["frequency"] == F.size and np.allclose(ds["z_imag"].values, Z.imag)),
    ("csv-khz-kohm-units", "s.csv", eis_text(f=F / 1e3, z=Z / 1e3,
                                              header="freq/kHz,Z'/kOhm,Z''/kOhm"),
     spectrum, {}, None, "",
     lambda ds: np.allclose(ds["frequency"].values, F) and np.allclose(ds["z_real"].values,
                                                                        Z.real)),
    ("csv-mohm-units", "s.csv", eis_text(z=Z * 1e3, header="freq/Hz,Z'/mOhm,Z''/mOhm"),
     spectrum, {}, None, "", lambda ds: np.allclose(ds["z_real"].values, Z.real)),
    ("csv-polar-rad", "s.csv", polar_rad, spectrum, {}, None, "",
     lambda ds: np.allclose(ds["z_real"].values, Z.real)
     and np.allclose(ds["z_imag"].values, Z.imag)),
    ("csv-angular-frequency", "s.csv", eis_text(f=2 * np.pi * F, header="omega/rad,Z',Z''"),
     spectrum, {}, ColumnError, "cannot find frequency", None),
    ("csv-all-impedance-nan", "s.csv", eis_text(z=np.full(F.size, np.nan) + 0j), spectrum, {},
     TooFewPointsError, "0 usable point", None),
    ("csv-huge", "s.csv", huge_file(b"frequency_hz,z_real_ohm,z_imag_ohm\n"), spectrum, {},
     FileFormatError, "above the reader limit", None),
    ("gitt-pulse-without-rest", "g.csv", gitt_text(*NO_REST[:3]), pulses, {"capacity_mah": 2.0},
     None, "",
     lambda p: list(p["flag"].values) == ["", "no rest", "no rest before", ""]
     and list(p["complete"].values) == [True, False, False, True]
     and np.isnan(p["ocv_after"].values[1])),
    ("gitt-latin1-microamp-header", "g.csv", latin1_gitt_ua, pulses, {"capacity_mah": 2.0},
     None, "", lambda p: np.allclose(p["current_a"].values, -1e-3)
     and np.allclose(p["soc"].values, [99.5, 98.5, 97.5])),
    ("gitt-current-sign-reversed-fixed", "g.csv", gitt_text(i=-I), pulses,
     {"capacity_mah": 2.0, "current_sign": "flip"}, None, "",
     lambda p: np.allclose(p["current_a"].values, -1e-3)
     and list(p["kind"].values) == ["discharge"] * 3),
    ("gitt-time-in-ms", "g.csv", gitt_text(t=T * 1000, header="time/ms,current_a,voltage_v"),
     pulses, {"capacity_mah": 2.0}, None, "",
     lambda p: np.allclose(p["t_start"].values, [600.0, 2472.0, 4344.0])),
    ("gitt-a-read-as-ma", "g.csv", gitt_text(i=I / 1000, header="time_s,current/mA,voltage_v"),
     pulses, {"capacity_mah": 2.0}, UnitError, "current", None),
    ("gitt-duplicate-time-differs", "g.csv", gitt_text(
        t=np.insert(T, 10, T[9]), i=np.insert(I, 10, I[9]), v=np.insert(V, 10, V[9] + 0.1)),
     gitt, {}, DataWarning, "share their time stamp",
     lambda g: g.sizes["time"] == T.size and _excluded(g)[0]["row"] == 11),
    ("gitt-duplicate-time-identical", "g.csv", gitt_text(
        t=np.insert(T, 10, T[9]), i=np.insert(I, 10, I[9]), v=np.insert(V, 10, V[9])),
     gitt, {}, None, "",
     lambda g: g.sizes["time"] == T.size
     and _excluded(g) == [{"row": 11, "time": float(T[9]), "reason": "duplicate"}]),
    ("gitt-single-sample", "g.csv", gitt_text(t=T[:1], i=I[:1], v=V[:1]), gitt, {},
     TooFewPointsError, "at least 10", None),
    ("gitt-empty-file", "g.csv", "", gitt, {}, EmptyFileError, "file is empty", None),
    ("gitt-binary-garbage", "g.csv", b"\x00\x01\x02PK\x03\x04" * 50, gitt, {}, EncodingError,
     "not a text export", None),
    ("gitt-huge", "g.csv", huge_file(b"time_s,current_a,voltage_v\n"), gitt, {},
     FileFormatError, "above the reader limit", None),
    # study files (every referenced file exists unless the case removes it)
    ("study-latin1", "study.toml", study_files(STUDY.replace('"s"', '"Zelle 25 \xb0C"'),
                                              encoding="latin-1"),
     load_study, {}, StudyFileError, "not UTF-8 text", None),
    ("study-empty", "study.toml", study_files(""), load_study, {}, StudyFileError,
     "cells is missing ([[cells]] tables, at least one cell per design)", None),
    ("study-binary", "study.toml", study_files(b"PK\x03\x04\xff\xfe\x00" * 20), load_study,
     {}, StudyFileError, "not UTF-8 text", None),
    ("study-missing-gitt-file", "study.toml", study_files(STUDY, skip=("a1.csv",)), load_study,
     {}, StudyFileError, "cells[0].gitt = 'a1.csv': expected a file that exists", None),
    ("study-missing-design", "study.toml", study_files(STUDY.replace('design = "A"\n', "")),
     load_study, {}, StudyFileError, "cells[0].design is missing", None),
    ("study-compare-unknown-design", "study.toml",
     study_files(STUDY.replace('design = "B"', 'design = "A"')), load_study, {},
     StudyFileError, "compare.b = 'B': expected a design that has cells (A)", None),
    ("study-sampler-zero", "study.toml", study_files(STUDY + "\n[sampler]\ndraws = 0\n"),
     load_study, {}, StudyFileError, "sampler.draws = 0: expected an integer in [1, 100000]", None),
    ("study-target-accept-one", "study.toml",
     study_files(STUDY + "\n[sampler]\ntarget_accept = 1.0\n"), load_study, {},
     StudyFileError, "sampler.target_accept = 1.0: expected a NUTS step-size target (e.g. 0.98), "
                     "a number in (0, 1)", None),
    ("study-target-accept-control", "study.toml",
     study_files(STUDY + "\n[sampler]\ntarget_accept = 0.98\ndraws = 3000\n"), load_study, {},
     None, "", lambda st: st.sampler == {"target_accept": 0.98, "draws": 3000}),
    ("study-capacity-negative", "study.toml",
     study_files(STUDY.replace("capacity_mah = 2.0", "capacity_mah = -2.0")), load_study, {},
     StudyFileError, "study.capacity_mah = -2.0: expected a capacity in mAh, a number > 0", None),
    ("study-soc-out-of-range", "study.toml",
     study_files(STUDY.replace("soc = 50 }]\n\n[[cells]]", "soc = 250 }]\n\n[[cells]]")),
     load_study, {}, StudyFileError, "cells[0].eis[0].soc = 250: expected a state of charge in percent, "
                     "a number in [0, 100]", None),
    ("study-good-control", "study.toml", study_files(STUDY), load_study, {}, None, "",
     lambda st: st.designs == ("A", "B") and len(st.input_files()) == 4),
]

# Known gaps, kept in the table so that they are seen (strict: the test fails once fixed).
XFAIL: dict[str, str] = {}
PARAMS = [pytest.param(*c, id=c[0], marks=[pytest.mark.xfail(strict=True, reason=XFAIL[c[0]])]
                       if c[0] in XFAIL else []) for c in CASES]


@pytest.mark.parametrize(("case", "name", "content", "reader", "kwargs", "expect", "fragment",
                          "check"), PARAMS)
def test_bad_input(tmp_path, case, name, content, reader, kwargs, expect, fragment, check):
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if expect is not None and not issubclass(expect, Warning):
        with pytest.raises(expect) as info:
            reader(path, **kwargs)
        msg = str(info.value)
        assert fragment in msg
        assert str(path) in msg, "the message must name the file"
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = reader(path, **kwargs)
    got = [w for w in caught if expect is not None and issubclass(w.category, expect)]
    if expect is not None:
        assert got and any(fragment in str(w.message) for w in got), [str(w.message)
                                                                      for w in caught]
    else:
        assert not [w for w in caught if issubclass(w.category, DataWarning)]
    assert check(result)


def test_table_is_big_enough():
    assert len(CASES) >= 25
    assert len({c[0] for c in CASES}) == len(CASES), "case ids must be unique"
    kinds = {"spectrum": 0, "gitt": 0, "study": 0}
    for c in CASES:
        reader = c[3]
        kinds["study" if reader is load_study else
              "gitt" if reader in (gitt, pulses) else "spectrum"] += 1
    assert kinds["spectrum"] >= 10 and kinds["gitt"] >= 10 and kinds["study"] >= 5, kinds


def test_huge_file_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:  # sparse: no disk space used
        fh.write(b"frequency_hz,z_real_ohm,z_imag_ohm\n")
        fh.truncate(_text.MAX_FILE_BYTES + 1)
    with pytest.raises(FileFormatError, match="above the reader limit"):
        dio.read_spectrum(path)


def test_missing_file():
    with pytest.raises(FileFormatError, match="file not found"):
        dio.read_spectrum("/nonexistent/x.csv")


def test_make_spectrum_validation():
    with pytest.raises(ValueRangeError, match="cell_type"):
        dio.make_spectrum(F, Z, cell_type="full")
    with pytest.raises(ValueRangeError, match="soc=150"):
        dio.make_spectrum(F, Z, soc=150)
    with pytest.raises(ValueRangeError, match="imag_sign"):
        dio.make_spectrum(F, Z, imag_sign="maybe")
    # an inductive high-frequency tail is kept, not dropped (the model handles inductance)
    zl = zarc_spectrum(F, l_h=2e-5)
    ds = dio.make_spectrum(F, zl)
    assert (ds["z_imag"].values > 0).sum() >= 3 and ds.sizes["frequency"] == F.size
