"""A `kedro run` of the files source killed with SIGKILL in the middle of a large file, then
run again: bronze holds every line of the file exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

BRONZE = "data/02_intermediate/bronze_trades"
LANDING = "data/01_raw/streaming_landing/trades"
CURSOR = "data/01_raw/ingestion_cursor.json"
N_LINES = 200_000
CHUNK_ROWS = 2_000


def _landed(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("file-*.json")) if folder.is_dir() else []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_mid_file_then_rerun_lands_every_line_once(project, read_delta):
    source = project.path("drop")
    source.mkdir()
    with (source / "day.jsonl").open("w") as out:
        for k in range(N_LINES):
            out.write(json.dumps({"trade_id": f"K{k}", "symbol": "AAPL", "price": 190.0,
                                  "volume": 100.0, "timestamp": 1767623400000 + k,
                                  "exchange": "XNAS"}) + "\n")
    settings = (f"ingestion.source=files,ingestion.files.path={source},"
                f"ingestion.files.chunk_rows={CHUNK_ROWS}")
    landing = project.path(LANDING)
    run = subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "ingestion", "--params", settings],
        cwd=project.workdir, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not _landed(landing) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the run and its JVM, mid-file
        _, errors = run.communicate()
    landed = _landed(landing)
    assert run.returncode == -signal.SIGKILL, errors.decode()[-2000:]
    assert 0 < len(landed) < N_LINES // CHUNK_ROWS  # killed in the middle of the file
    assert not project.path(CURSOR).exists()
    assert not project.path(BRONZE).exists()

    params = {"ingestion": {"source": "files",
                            "files": {"path": str(source), "chunk_rows": CHUNK_ROWS}}}
    project.run("ingestion", params=params)
    bronze = read_delta(project.path(BRONZE))
    assert bronze.count() == N_LINES
    assert bronze.select("trade_id").distinct().count() == N_LINES
    assert set(landed) <= set(_landed(landing))  # the re-fetch replaced, not added

    # The cursor lost after bronze was written (a crash just before it is saved): the
    # re-fetch rewrites the same landing files, which the bronze stream has already read.
    project.path(CURSOR).unlink()
    project.run("ingestion", params=params)
    assert read_delta(project.path(BRONZE)).count() == N_LINES
