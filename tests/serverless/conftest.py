"""The serverless lane: the same project runs over a local Spark Connect session, the closest
stand-in for Databricks serverless jobs and pipelines on this machine (``sparkContext``, JVM
handles, RDDs and Delta's Python API all raise there, as on serverless).

Collected only in a process of its own (``tests/test_serverless_lane.py`` starts it with
``FINANCIAL_MLOPS_SERVERLESS_LANE=1``): a classic session built earlier in the same process
would serve these tests instead, and Connect's local server, once started, sets ``SPARK_REMOTE``
for every later session of the process.
"""

from __future__ import annotations

import pytest
import yaml

from financial_mlops.spark import get_spark
from tests.conftest import REPO


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        item.add_marker(pytest.mark.serverless)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A local Spark Connect session with Delta on the server side, built by ``get_spark``."""
    conf = yaml.safe_load((REPO / "conf/base/spark.yml").read_text())
    conf["spark.sql.warehouse.dir"] = str(tmp_path_factory.mktemp("warehouse"))
    conf["spark.driver.memory"] = "2g"
    conf["spark.remote"] = "local[2]"
    session = get_spark(conf)
    assert type(session).__module__.startswith("pyspark.sql.connect"), type(session)
    return session


# Spark starts a foreachBatch worker and gives it 10 s (hard-coded) to import PySpark and connect
# back; on this shared 2-core machine, at a load average of ~19, the import alone took 13.5 s.
# A query that failed to start wrote nothing, so starting it again is safe.
_SLOW_WORKER = ("Python worker failed to connect back", "CANNOT_OPEN_SOCKET")


def start_with_retries(action, attempts: int = 10):
    """Run ``action`` again when only its foreachBatch worker was too slow to start."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:  # noqa: BLE001  (Kedro wraps Spark's error)
            chain, cause = [], error
            while cause is not None:
                chain.append(str(cause))
                cause = cause.__cause__
            if attempt == attempts or not any(sign in text for text in chain
                                              for sign in _SLOW_WORKER):
                raise
    return None
