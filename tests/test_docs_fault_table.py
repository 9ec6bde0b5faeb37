"""docs/validation.md's fault tables list every case of the table-driven fault tests."""

# ruff: noqa: D103 (test names say what each test checks)

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from test_faults_contract import CASES as CLI_CASES

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "validation.md"


def test_reading_table_is_generated_from_the_test_table():
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "fault_tables.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def test_cli_table_lists_every_case_once():
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split("## Fault table", 1)[1].split("### Reading side", 1)[0]
    listed = re.findall(r"^\| ([a-z0-9-]+) \| `drtbayes ", section, flags=re.M)
    ids = [c[0] for c in CLI_CASES]
    assert sorted(listed) == sorted(ids)
    assert len(set(listed)) == len(listed)
