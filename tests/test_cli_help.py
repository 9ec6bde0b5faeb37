"""The CLI as a new user meets it (issue 26): help everywhere, did-you-mean, short summaries."""

from __future__ import annotations

import argparse
import csv

import pytest
from test_faults_contract import spectrum_csv

from drtbayes.cli import _cli_spelling, _parser, main


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_option_of_every_command_has_help():
    """Walk the parser: an option or argument without help text fails the test."""
    parser = _parser()
    missing = [a.dest for a in parser._actions if not a.help]
    for name, sub in _subparsers(parser).items():
        missing += [f"{name} {a.option_strings or a.dest}" for a in sub._actions
                    if not (a.help or "").strip()]
    assert missing == []


def test_every_command_has_a_description_and_an_example():
    """Check each subcommand's help has a description and an example that runs it."""
    for name, sub in _subparsers(_parser()).items():
        assert sub.description and len(sub.description) > 40, name
        assert sub.epilog.startswith("examples:\n") and f"drtbayes {name}" in sub.epilog, name


def test_bare_drtbayes_prints_help_and_exits_0(capsys):
    """Check `drtbayes` alone prints the help (exit 0)."""
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: drtbayes") and "fit-eis" in out and "examples:" in out


@pytest.mark.parametrize(("typo", "suggestion"), [("fti-eis", "fit-eis"), ("rn", "run"),
                                                   ("crosover", "crossover"),
                                                   ("model", "models")])
def test_mistyped_command_gets_did_you_mean(typo, suggestion, capsys):
    """Check a typo'd command is one line naming the closest command."""
    assert main([typo, "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"drtbayes: error: unknown command {typo!r}; did you mean '{suggestion}'? "
                   "commands: read, models, fit-eis, split-gitt, crossover, simulate, run, demo "
                   "('drtbayes --help' explains them)"]


def test_models_name_prints_the_preset_with_its_priors(capsys):
    """Check `drtbayes models NAME` shows the kind, the file and every prior."""
    assert main(["models", "drt-single"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("preset drt-single (kind drt): ")
    for words in ("[priors]", "r_inf_scale = 2.0", "[sampler]", "[gate]"):
        assert words in out
    assert main(["models"]) == 0
    assert "'drtbayes models NAME' shows a preset" in capsys.readouterr().out


@pytest.mark.parametrize(("python", "cli"), [
    ("pass imag_sign='flip'; if", "pass --imag-sign flip; if"),
    ("pass imag_sign='as-is'", "pass --imag-sign as-is"),
    ("with capacity_mah=2.4 gives", "with --capacity-mah 2.4 gives"),
    ("pass force=True (CLI: --force) to", "pass --force to"),
    ("(fast=True): intervals", "(--fast): intervals"),
    # key paths of the study file stay as they are written there
    ("cells[0].capacity_mah = 2", "cells[0].capacity_mah = 2"),
])
def test_messages_use_cli_spellings(python, cli):
    """Check Python keyword spellings become option spellings, study keys stay."""
    assert _cli_spelling(python) == cli


def test_fit_eis_prints_a_short_summary_and_batch_table_has_intervals(tmp_path, capsys):
    """Check the console summary and summary.csv of real (--fast) fits of one ZARC spectrum.

    Truth: R_inf 5 ohm, R_pol 10 ohm. Tolerances 3 %: at 0 noise the Laplace posterior's
    width is well below that, and the fit's bias on this spectrum is < 1 %.
    """
    s = spectrum_csv(tmp_path / "cellA.csv")
    assert main(["fit-eis", str(s), "--fast", "--quiet", "--seed", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) <= 6, out
    assert out[0] == "method laplace, preset drt-single; median [95 % HDI]"
    line = next(ln for ln in out if "R_pol" in ln)
    r_pol = float(line.split("R_pol ")[1].split(" [")[0])
    assert r_pol == pytest.approx(10.0, rel=0.03) and "no gate (--fast)" in line
    assert out[-1] == "(the full summary: add --json FILE)"

    batch = tmp_path / "batch"
    assert main(["fit-eis", str(s), "--fast", "--quiet", "--out", str(batch), "--design",
                 "S_SE", "--soc", "50", "--seed", "1"]) == 0
    capsys.readouterr()
    with open(batch / "summary.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["design"], row["cell"], float(row["soc"])) == ("S_SE", "cellA", 50.0)
    lo, med, hi = (float(row[k]) for k in ("r_pol_lo95", "r_pol_ohm", "r_pol_hi95"))
    assert lo < med < hi and med == pytest.approx(10.0, rel=0.03)
    lo, med, hi = (float(row[k]) for k in ("r_inf_lo95", "r_inf_ohm", "r_inf_hi95"))
    assert lo < med < hi and med == pytest.approx(5.0, rel=0.03)
    # a rerun resumes: its own table may be replaced without --force
    assert main(["fit-eis", str(s), "--fast", "--quiet", "--out", str(batch), "--design",
                 "S_SE", "--soc", "50", "--seed", "1"]) == 0
    assert "0 fitted, 1 up to date, 0 failed" in capsys.readouterr().out
