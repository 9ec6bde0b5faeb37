"""Write the small instrument-format fixtures in tests/data (run once; outputs are committed).

    python tests/data/make_fixtures.py

All spectra are the analytic R-ZARC-ZARC of tests/test_io_synth.py (R0 = 20 ohm, R1 = 60 ohm,
R2 = 150 ohm), so tests can compare what a reader returns with the exact values; the GITT
records come from ``synth_gitt`` (capacity 2 mAh, 0.5 C pulses of 72 s = 1 % SOC each).
The .mpr files are built byte by byte in the layout galvani parses: the 52-byte signature, then
MODULE blocks (10-byte short name, 25-byte long name, u4 length, u4 version, 8-byte date) for
the settings ("VMP Set"), the data ("VMP data", version 2: u4 point count, u1 column count, u2
column ids, zero padding to byte 405, then packed records) and optionally the loops ("VMP loop",
u4 count then u4 start index of each loop).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_io_synth import log_freqs, synth_gitt, zarc_spectrum  # noqa: E402

MPR_MAGIC = b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\x00\x00\x00\x00"


def mpr_module(short: bytes, long: bytes, payload: bytes, version: int) -> bytes:
    hdr = (b"MODULE" + short.ljust(10) + long.ljust(25) + np.uint32(len(payload)).tobytes()
           + np.uint32(version).tobytes() + b"01/15/24")
    return hdr + payload


def mpr_bytes(col_ids: list[int], dtype: list[tuple[str, str]], values: dict[str, np.ndarray],
              loops: list[int] | None = None) -> bytes:
    n = len(next(iter(values.values())))
    rec = np.zeros(n, dtype=np.dtype(dtype))
    for name, _ in dtype:
        rec[name] = values[name]
    head = np.uint32(n).tobytes() + np.uint8(len(col_ids)).tobytes()
    head += np.array(col_ids, dtype="<u2").tobytes()
    head = head.ljust(405, b"\x00")
    data_mod = mpr_module(b"VMP data", b"Data", head + rec.tobytes(), 2)
    set_mod = mpr_module(b"VMP Set", b"Settings", b"\x00" * 64, 0)
    out = MPR_MAGIC + set_mod + data_mod
    if loops is not None:
        payload = np.uint32(len(loops)).tobytes() + np.array(loops, dtype="<u4").tobytes()
        out += mpr_module(b"VMP loop", b"Loop", payload, 0)
    return out


MPT_PEIS_HEADER = """EC-Lab ASCII FILE
Nb header lines : {n}

Potentio Electrochemical Impedance Spectroscopy

Run on channel : 1 (SN 0001)
Electrode surface area : 0.785 cm\xb2
Characteristic mass : 0.000 g
Acquisition started on : 01/15/2024 10:00:00
fi                  100.000
unit fi             kHz
ff                  100.000
unit ff             mHz
Nd                  6
Points              per decade
nc cycles           1
"""

MPT_GITT_HEADER = """EC-Lab ASCII FILE
Nb header lines : {n}

Galvanostatic Intermittent Titration Technique

Run on channel : 2 (SN 0001)
Electrode surface area : 0.785 cm\xb2
Battery capacity : 2.000 mA.h
Is                  -1.000
unit Is             mA
ts (h:m:s)          0:01:12.0000
tR (h:m:s)          0:30:0.0000
"""


def write_mpt(path: Path, header_template: str, names: list[str], rows: list[list[str]]):
    body = header_template.rstrip("\n").split("\n")
    n = len(body) + 2  # the column-name line and one blank line before it
    text = header_template.format(n=n).rstrip("\n") + "\n\n" + "\t".join(names) + "\t\n"
    text += "".join("\t".join(r) + "\t\n" for r in rows)
    # EC-Lab writes CRLF line ends and latin-1 bytes (the micro and superscript-2 signs)
    path.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))


def main() -> None:
    f = log_freqs(1e5, 0.1, 6)  # 37 points
    z = zarc_spectrum(f)

    lines = ["frequency_hz,z_real_ohm,z_imag_ohm"]
    lines += [f"{a:.10g},{b.real:.10g},{b.imag:.10g}" for a, b in zip(f, z, strict=True)]
    (HERE / "eis_canonical.csv").write_text("\n".join(lines) + "\n")

    # BioLogic-style names, semicolons, decimal commas, low-to-high sweep
    lines = ["freq/Hz;Re(Z)/Ohm;-Im(Z)/Ohm"]
    lines += [f"{a:.8E};{b.real:.8E};{-b.imag:.8E}".replace(".", ",")
              for a, b in zip(f[::-1], z[::-1], strict=True)]
    (HERE / "eis_semicolon_decimal_comma.csv").write_text("\n".join(lines) + "\n")

    # polar form with prefixed units, tab separated
    lines = ["Frequency (kHz)\t|Z| (mOhm)\tPhase (deg)"]
    lines += [f"{a / 1e3:.10g}\t{abs(b) * 1e3:.10g}\t{np.degrees(np.angle(b)):.10g}"
              for a, b in zip(f, z, strict=True)]
    (HERE / "eis_polar_khz_mohm.tsv").write_text("\n".join(lines) + "\n")

    # EC-Lab PEIS export with two loops (the second with R0 + 2 ohm)
    names = ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg", "time/s",
             "<Ewe>/V", "<I>/mA", "Cs/\xb5F", "cycle number"]
    rows = []
    for loop in (1, 2):
        zl = zarc_spectrum(f, r0=20.0 + 2.0 * (loop - 1))
        for k, (a, b) in enumerate(zip(f, zl, strict=True)):
            rows.append([f"{a:.7E}", f"{b.real:.7E}", f"{-b.imag:.7E}", f"{abs(b):.7E}",
                         f"{np.degrees(np.angle(b)):.7E}", f"{(loop - 1) * 400 + k * 5.0:.6E}",
                         "3.9000000E+00", "0.0000000E+00", "0.0000000E+00", f"{loop:.6E}"])
    write_mpt(HERE / "eis_peis_2loops.mpt", MPT_PEIS_HEADER, names, rows)

    # EC-Lab GITT export: CC/CV charge then 5 discharge pulses
    t, i, v, _ = synth_gitt(n_pulses=5, rest_s=1800.0, sample_period_s=120.0,
                            cv_step_s=300.0, n_log=6)
    names = ["mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.",
             "time/s", "control/mA", "Ewe/V", "I/mA", "dQ/mA.h", "(Q-Qo)/mA.h", "cycle number"]
    rows = []
    q = 0.0
    for k in range(t.size):
        dq = i[k - 1] * (t[k] - t[k - 1]) / 3.6 if k else 0.0
        q += dq
        rows.append(["1" if i[k] else "3", "1" if i[k] > 0 else "0", "0", "0", "0", "0",
                     f"{t[k]:.10E}", f"{i[k] * 1e3:.7E}", f"{v[k]:.9E}", f"{i[k] * 1e3:.9E}",
                     f"{dq:.9E}", f"{q:.9E}", "0.000000000000000E+000"])
    write_mpt(HERE / "gitt_cp.mpt", MPT_GITT_HEADER, names, rows)

    # Gamry EISPOT: OCV table before the ZCURVE, decimal commas, latin-1 degree sign
    out = ["EXPLAIN", "TAG\tEISPOT", "TITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier",
           "FREQINIT\tQUANT\t1,00000E+005\tInitial Fre&q. (Hz)",
           "FREQFINAL\tQUANT\t1,00000E-001\tFinal Fre&q. (Hz)",
           "AREA\tQUANT\t7,85000E-001\t&Area (cm^2)",
           "OCVCURVE\tTABLE\t5", "\tPt\tT\tVf\tVm\tAch\tOver\tTemp",
           "\t#\ts\tV vs. Ref.\tV\tV\tbits\tdeg C"]
    for k in range(5):
        out.append(f"\t{k}\t{0.25 * (k + 1)}\t3,90012E+000\t3,90011E+000\t0\t...........\t25")
    out += ["EOC\tQUANT\t3,90012\tOpen Circuit (V)", "ZCURVE\tTABLE",
            "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange",
            "\t#\ts\tHz\tohm\tohm\tV\tohm\t\xb0\tA\tV\t#"]
    for k, (a, b) in enumerate(zip(f, z, strict=True)):
        row = [str(k), str(k * 2), f"{a:.10g}", f"{b.real:.10g}", f"{b.imag:.10g}", "1",
               f"{abs(b):.10g}", f"{np.degrees(np.angle(b)):.10g}", "1E-08", "3,9", "8"]
        out.append("\t" + "\t".join(c.replace(".", ",") for c in row))
    (HERE / "eis_eispot.DTA").write_bytes(("\r\n".join(out) + "\r\n").encode("latin-1"))

    # Gamry CHRONOP (chronopotentiometry) with one CURVE table
    t, i, v, _ = synth_gitt(n_pulses=4, rest_s=1800.0, sample_period_s=120.0,
                            charge_first=False, n_log=6)
    out = ["EXPLAIN", "TAG\tCHRONOP", "TITLE\tLABEL\tChronopotentiometry Scan\tTest &Identifier",
           "ISTEP1\tQUANT\t-1,00000E-003\tPre-step (A)", "CURVE\tTABLE\t" + str(t.size),
           "\tPt\tT\tVf\tIm\tVu\tSig\tAch\tIERange\tOver\tTemp",
           "\t#\ts\tV vs. Ref.\tA\tV\tV\tV\t#\tbits\tdeg C"]
    for k in range(t.size):
        out.append(f"\t{k}\t{t[k]:.10g}\t{v[k]:.10g}\t{i[k]:.10g}\t0\t{i[k]:.6g}\t0\t8\t"
                   "...........\t25")
    (HERE / "gitt_chronop.DTA").write_text("\r\n".join(out) + "\r\n", encoding="utf-8")

    # BioLogic binary: a PEIS with two loops, and a GITT
    n = f.size
    z2 = zarc_spectrum(f, r0=22.0)
    vals = {"flags": np.full(2 * n, 1, dtype=np.uint8),
            "time/s": np.arange(2 * n) * 5.0,
            "freq/Hz": np.concatenate([f, f]),
            "Re(Z)/Ohm": np.concatenate([z.real, z2.real]),
            "-Im(Z)/Ohm": np.concatenate([-z.imag, -z2.imag])}
    dtype = [("flags", "u1"), ("time/s", "<f8"), ("freq/Hz", "<f4"), ("Re(Z)/Ohm", "<f4"),
             ("-Im(Z)/Ohm", "<f4")]
    (HERE / "eis_peis_2loops.mpr").write_bytes(
        mpr_bytes([1, 4, 32, 37, 38], dtype, vals, loops=[0, n, 2 * n]))

    t, i, v, _ = synth_gitt(n_pulses=5, rest_s=1800.0, sample_period_s=120.0,
                            cv_step_s=300.0, n_log=6)
    vals = {"flags": np.where(i != 0, 1, 3).astype(np.uint8), "time/s": t,
            "Ewe/V": v, "I/mA": i * 1e3}
    dtype = [("flags", "u1"), ("time/s", "<f8"), ("Ewe/V", "<f4"), ("I/mA", "<f4")]
    (HERE / "gitt.mpr").write_bytes(mpr_bytes([1, 4, 6, 8], dtype, vals))

    # GITT as CSV with hours and mA
    lines = ["time/h,I/mA,Ewe/V"]
    lines += [f"{a / 3600:.12g},{b * 1e3:.10g},{c:.10g}" for a, b, c in zip(t, i, v, strict=True)]
    (HERE / "gitt_hours_ma.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
