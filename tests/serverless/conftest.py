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
