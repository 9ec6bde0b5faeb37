"""Property tests: arbitrary and mutated bytes never crash a reader with anything but a
DataError, never hang, and never write a file.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import drtbayes.io as dio
from drtbayes.errors import DataError

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=60, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SEEDS = {
    "csv": (DATA / "eis_canonical.csv").read_bytes(),
    "mpt": (DATA / "eis_peis_2loops.mpt").read_bytes(),
    "dta": (DATA / "eis_eispot.DTA").read_bytes(),
    "mpr": (DATA / "eis_peis_2loops.mpr").read_bytes(),
    "gitt_csv": (DATA / "gitt_hours_ma.csv").read_bytes()[:4000],
    "gitt_dta": (DATA / "gitt_chronop.DTA").read_bytes(),
    "gitt_mpr": (DATA / "gitt.mpr").read_bytes(),
}
EXT = {"csv": ".csv", "mpt": ".mpt", "dta": ".DTA", "mpr": ".mpr", "gitt_csv": ".csv",
       "gitt_dta": ".DTA", "gitt_mpr": ".mpr"}


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """A valid file with a few random edits: cut, overwrite, insert, delete, digit swaps."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "set", "insert", "delete", "swap"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "cut":
            data = data[:pos]
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "swap" and data:
            data[pos] = draw(st.sampled_from(b"0123456789.,;\t-e\n nN"))
    return bytes(data)


def _read_only_datafailure(kind: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{EXT[kind]}"
        path.write_bytes(content)
        before = sorted(os.listdir(d))
        mtime = path.stat().st_mtime_ns
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind.startswith("gitt"):
                    g = dio.read_gitt(path)
                    dio.detect_pulses(g)
                else:
                    dio.read_spectra(path)
        except DataError:
            pass
        assert sorted(os.listdir(d)) == before
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_arbitrary_bytes(kind):
    @FUZZ
    @given(st.binary(max_size=3000))
    def run(content):
        _read_only_datafailure(kind, content)

    run()


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_mutated_valid_files(kind):
    @FUZZ
    @given(mutated(SEEDS[kind]))
    def run(content):
        _read_only_datafailure(kind, content)

    run()


@pytest.mark.parametrize("kind", ["csv", "mpt", "dta"])
def test_arbitrary_text(kind):
    @FUZZ
    @given(st.text(alphabet=st.sampled_from(list("0123456789.,;\t -eE\nabfZ'|()/")),
                   max_size=400))
    def run(text):
        prefix = {"csv": "f,Z',Z''\n", "mpt": "EC-Lab ASCII FILE\nNb header lines : 3\n\n",
                  "dta": "EXPLAIN\nTAG\tEISPOT\nZCURVE\tTABLE\n\tPt\tFreq\tZreal\tZimag\n\t#\n"}
        _read_only_datafailure(kind, (prefix[kind] + text).encode())

    run()
