"""The console script a Databricks wheel task runs: ``--version`` without Spark, success without
``SystemExit``, a user mistake as one line and a failed exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from financial_mlops import __version__
from financial_mlops.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_version_prints_the_version_and_the_commit(capsys):
    assert main(["--version"]) is None  # returns: no SystemExit
    assert capsys.readouterr().out.strip() == f"financial_mlops {__version__} (commit {_head()})"


def test_version_works_where_spark_is_not_installed():
    """As on Databricks, where the wheel is installed without its ``local`` extra."""
    blocked = ("import sys; sys.modules.update(pyspark=None, delta=None); "
               "from financial_mlops.__main__ import main; main(['--version']); "
               "assert 'pyspark' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"(commit {_head()})")


def test_a_finished_command_returns_instead_of_raising_system_exit(monkeypatch):
    """Click's standalone mode would end even a successful run with SystemExit(0); and the
    console script runs ``sys.exit(main())``, so main must return None, not the run's outputs."""
    monkeypatch.chdir(REPO)
    assert main(["--help"]) is None


def test_a_user_mistake_is_one_line_and_a_failed_exit(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as exit_:
        main(["--env", "prd", "--pipelines", "tournament"])
    assert exit_.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("Error: env 'prd' runs on Databricks"), error
