"""setup_uc_infrastructure.sql creates what the bundle and conf/<env> use, grants what the guide
asks to the principals its variables name, and its preflight stops a deploy that would clash.

Local Spark runs the script's own variable logic and preflight query; only the statements that
need a Unity Catalog metastore (CREATE CATALOG/VOLUME, GRANT) are checked as text, and the
Databricks system table the preflight reads is stood in for by a local view.
"""

import re

import pytest
from databricks_bundle import DECLARATIVE_TABLES, REPO, TARGETS, load_yaml
from pyspark.errors import PySparkException

SQL = (REPO / "setup_uc_infrastructure.sql").read_text()
SEED_CATALOG_PRIVILEGES = {"USE CATALOG", "USE SCHEMA", "CREATE TABLE", "SELECT", "MODIFY"}


def statements() -> list[str]:
    """The script's statements, comments dropped and whitespace collapsed."""
    code = "\n".join(line for line in SQL.splitlines() if not line.lstrip().startswith("--"))
    return [" ".join(part.split()) for part in code.split(";") if part.strip()]


def of_kind(prefix: str) -> list[str]:
    return [statement for statement in statements() if statement.startswith(prefix)]


RUNNERS = {"dev": "financial-mlops-developers", "acc": "financial-mlops-acc-sp",
           "prd": "financial-mlops-prd-sp"}
WRITERS = {"dev": "financial-mlops-developers", "acc": "financial-mlops-feed-acc",
           "prd": "financial-mlops-feed-prd"}
CI_DEPLOYER = "financial-mlops-ci-sp"


def test_every_statement_is_plain_sql_that_older_runtimes_accept():
    """EXECUTE IMMEDIATE of a built string and session variables are refused by older
    runtimes and SQL warehouses: the script is plain statements only."""
    assert not of_kind("EXECUTE") and not of_kind("DECLARE") and not of_kind("SET VAR")
    assert "||" not in " ".join(of_kind("GRANT"))


def grants_to(grants: list[str], principal: str) -> dict[str, set[str]]:
    """{securable: privileges} granted to one principal."""
    granted: dict[str, set[str]] = {}
    for grant in grants:
        match = re.fullmatch(r"GRANT (.+) ON (\w+ \S+) TO `(.+)`", grant)
        assert match, grant
        privileges, securable, grantee = match.groups()
        if grantee == principal:
            granted.setdefault(securable, set()).update(p.strip() for p in privileges.split(","))
    return granted


@pytest.mark.parametrize("env", TARGETS)
def test_creates_the_catalog_schema_and_volumes_of_each_env(env):
    globals_ = load_yaml(REPO / "conf" / env / "globals.yml")
    catalog, schema = globals_["catalog"], globals_["schema"]
    created = set(statements())
    assert any(s.startswith(f"CREATE CATALOG IF NOT EXISTS {catalog} ") for s in created)
    assert f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema}" in created
    for volume in ("packages", "streaming_landing"):
        assert f"CREATE VOLUME IF NOT EXISTS {catalog}.{schema}.{volume}" in created


def test_creates_no_table_the_declarative_pipeline_must_own():
    assert not of_kind("CREATE TABLE")
    assert not of_kind("CREATE OR REPLACE TABLE")


@pytest.mark.parametrize("env", TARGETS)
def test_grants_the_guide_privileges_to_the_principals_of_each_env(env):
    runner, writer = RUNNERS[env], WRITERS[env]
    grants = of_kind("GRANT")
    catalog = f"mlops_{env}"
    landing = f"VOLUME {catalog}.financial_transactions.streaming_landing"

    runner_grants = grants_to(grants, runner)
    assert runner_grants[f"CATALOG {catalog}"] >= SEED_CATALOG_PRIVILEGES
    assert runner_grants[landing] >= {"READ VOLUME", "WRITE VOLUME"}
    if writer != runner:
        assert {securable: privileges for securable, privileges in grants_to(grants, writer).items()
                if catalog in securable} == {
            f"CATALOG {catalog}": {"USE CATALOG"},
            f"SCHEMA {catalog}.financial_transactions": {"USE SCHEMA"},
            landing: {"READ VOLUME", "WRITE VOLUME"},
        }
    other_catalogs = {f"CATALOG mlops_{other}" for other in TARGETS if other != env}
    assert not other_catalogs & set(runner_grants), "a runner reaches another env's catalog"


@pytest.mark.parametrize("env", TARGETS)
def test_the_ci_service_principal_can_deploy_but_reads_no_data(env):
    catalog = f"mlops_{env}"
    granted = grants_to(of_kind("GRANT"), CI_DEPLOYER)
    assert granted[f"CATALOG {catalog}"] >= {"USE CATALOG", "USE SCHEMA", "CREATE TABLE"}
    assert not granted[f"CATALOG {catalog}"] & {"SELECT", "MODIFY"}
    assert granted[f"VOLUME {catalog}.financial_transactions.packages"] == {
        "READ VOLUME", "WRITE VOLUME"}


@pytest.fixture
def preflight(spark):
    """Run the script's preflight query against `tables` standing in for the system table."""
    (query,) = [s for s in of_kind("SELECT CASE") if "information_schema" in s]

    def run(tables: list[tuple[str, str, str, str]]) -> str:
        columns = "table_catalog STRING, table_schema STRING, table_name STRING, table_type STRING"
        spark.createDataFrame(tables, columns).createOrReplaceTempView("uc_tables_standin")
        local = query.replace("system.information_schema.tables", "uc_tables_standin")
        return spark.sql(local).first()["preflight"]

    return run


def test_preflight_checks_exactly_the_declarative_tables():
    (listed,) = re.findall(r"table_name IN \(([^)]*)\)", SQL)
    assert {name.strip(" '") for name in listed.split(",")} == DECLARATIVE_TABLES


def test_preflight_passes_when_the_pipeline_owns_its_tables(preflight):
    tables = [
        ("mlops_prd", "financial_transactions", "bronze_trades", "STREAMING_TABLE"),
        ("mlops_prd", "financial_transactions", "gold_trade_features", "MATERIALIZED_VIEW"),
        ("mlops_prd", "financial_transactions", "anomaly_scores", "MANAGED"),
        ("mlops_prd", "other_schema", "silver_trades", "MANAGED"),
    ]
    assert preflight(tables).startswith("preflight ok")


def test_preflight_names_every_table_that_would_block_the_pipeline(preflight):
    tables = [
        ("mlops_dev", "financial_transactions", "silver_trades", "MANAGED"),
        ("mlops_prd", "financial_transactions", "bronze_trades", "EXTERNAL"),
        ("mlops_acc", "financial_transactions", "bronze_trades", "STREAMING_TABLE"),
    ]
    with pytest.raises(PySparkException) as raised:
        preflight(tables)
    message = str(raised.value)
    assert "mlops_dev.financial_transactions.silver_trades" in message
    assert "mlops_prd.financial_transactions.bronze_trades" in message
    assert "mlops_acc" not in message
