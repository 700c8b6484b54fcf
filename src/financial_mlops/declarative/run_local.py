"""Run the declarative pipeline on this machine with ``spark-pipelines run``.

    python -m financial_mlops.declarative.run_local [--root data/declarative]
        [--landing data/01_raw/streaming_landing/trades] [--conf-source conf] [--env base]
        [--full-refresh-all]

The spec needs an absolute storage URI and absolute paths, so this writes a copy of
``spark-pipeline.yml`` with them into ``--root`` and runs it there. Tables go to a Hive
metastore (embedded Derby, one process at a time) and a warehouse under ``--root``: Spark's
default in-memory catalog forgets them and fails the second run with LOCATION_ALREADY_EXISTS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from financial_mlops.errors import UserError
from financial_mlops.spark import ensure_java

SPEC = Path(__file__).with_name("spark-pipeline.yml")
CONNECT_PORT = 15002  # where `spark-pipelines` starts its Spark Connect server


def write_spec(root: Path, landing: Path, conf_source: Path, env: str) -> Path:
    """The packaged spec with this machine's storage, paths and library location."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["storage"] = (root / "storage").resolve().as_uri()
    spec["configuration"].update({
        "financial_mlops.landing_path": str(landing.resolve()),
        "financial_mlops.conf_source": str(conf_source.resolve()),
        "financial_mlops.env": env,
    })
    library = os.path.relpath(SPEC.with_name("pipeline.py"), root.resolve())
    spec["libraries"] = [{"glob": {"include": library}}]
    path = root / "spark-pipeline.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def spark_defaults(root: Path) -> Path:
    """A Spark conf folder with the static confs the spec cannot set: the persistent catalog
    and a loopback-only driver. They go in ``spark-defaults.conf`` rather than ``--conf``:
    pyspark 4.2 passes ``--conf``s to the Connect server in groups of ten and keeps only the last
    group, silently dropping the rest."""
    root = root.resolve()
    confs = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": root / "warehouse",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / 'metastore'}",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    folder = root / "spark-conf"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spark-defaults.conf").write_text(
        "".join(f"{key} {value}\n" for key, value in confs.items()))
    return folder


def run(root: Path, landing: Path, conf_source: Path, env: str = "base",
        full_refresh_all: bool = False) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", CONNECT_PORT)) == 0:
            raise UserError(
                f"port {CONNECT_PORT} is in use: another Spark Connect server (an earlier "
                "`spark-pipelines run`?) is running; stop it first")
    root.mkdir(parents=True, exist_ok=True)
    spec = write_spec(root, landing, conf_source, env)
    ensure_java()  # spark-pipelines needs Java like the Spark session does
    environ = {
        **os.environ,
        "SPARK_CONF_DIR": str(spark_defaults(root)),
        # The CLI runs the pipeline files with PYSPARK_PYTHON, `python3` by default.
        "PYSPARK_PYTHON": sys.executable,
    }
    executable = shutil.which("spark-pipelines", path=str(Path(sys.executable).parent))
    cmd = [executable or "spark-pipelines", "run", "--spec", str(spec)]
    subprocess.run(cmd + (["--full-refresh-all"] if full_refresh_all else []),
                   check=True, env=environ)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/declarative"))
    parser.add_argument("--landing", type=Path,
                        default=Path("data/01_raw/streaming_landing/trades"))
    parser.add_argument("--conf-source", type=Path, default=Path("conf"))
    parser.add_argument("--env", default="base")
    parser.add_argument("--full-refresh-all", action="store_true")
    args = parser.parse_args(argv)
    try:
        run(args.root, args.landing, args.conf_source, args.env, args.full_refresh_all)
    except UserError as error:
        sys.exit(f"Error: {error}")
    except subprocess.CalledProcessError as error:
        sys.exit(f"Error: spark-pipelines run failed with exit code {error.returncode}")


if __name__ == "__main__":
    main()
