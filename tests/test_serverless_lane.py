"""Starts the serverless lane (``tests/serverless``) in a pytest process of its own, over a
local Spark Connect session, so that plain ``pytest`` runs it and no classic session leaks in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

LANE_ENV = "FINANCIAL_MLOPS_SERVERLESS_LANE"


@pytest.mark.serverless
@pytest.mark.slow
def test_the_serverless_lane_passes_over_spark_connect(connect_port):
    if os.environ.get(LANE_ENV):  # already inside the lane's process
        pytest.skip("the lane does not start itself")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/serverless", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=-ra --strict-markers"],
        cwd=REPO, env=os.environ | {LANE_ENV: "1"}, capture_output=True, text=True,
        timeout=3600, check=False)
    summary = done.stdout.strip().splitlines()[-1:] or [""]
    assert done.returncode == 0, f"{summary[0]}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert " passed" in summary[0] and "skipped" not in summary[0], summary[0]
