-- Unity Catalog objects of financial_mlops for dev, acc and prd (guide: docs/deploy.md).
-- Run once, top to bottom, in the Databricks SQL editor or a %sql cell, as a principal that holds
-- CREATE CATALOG on the metastore. Every statement is idempotent: re-running it changes nothing.
-- Do NOT create bronze_trades, silver_trades, silver_trades_quarantine or gold_trade_features
-- here: financial_streaming_pipeline must own them (see the preflight check at the end).

-- 1. Principals. The grants below name these defaults: replace them in this file (search and
--    replace) with your account groups, users or service principals (service principals by
--    application ID) before running it. Plain GRANT statements, no variables and no EXECUTE
--    IMMEDIATE, so that every SQL warehouse and runtime version runs the script as written.
--      financial-mlops-developers   dev runner and dev landing writer (the developers' group)
--      financial-mlops-acc-sp       acc runner: the service principal the acc jobs run as
--      financial-mlops-prd-sp       prd runner: the service principal the prd jobs run as
--      financial-mlops-feed-acc     acc landing writer (the feed dropping trade files)
--      financial-mlops-feed-prd     prd landing writer
--      financial-mlops-ci-sp        the CI service principal that deploys the bundle (GitHub
--                                   OIDC or a secret); it uploads the wheel to `packages` and
--                                   creates the pipeline, jobs and experiment in every env

-- 2. Catalogs, schema and volumes: packages holds released wheels and conf archives,
--    streaming_landing/trades the JSON files that the pipeline's Auto Loader ingests.
CREATE CATALOG IF NOT EXISTS mlops_dev COMMENT 'financial_mlops development';
CREATE SCHEMA IF NOT EXISTS mlops_dev.financial_transactions;
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.packages;
CREATE VOLUME IF NOT EXISTS mlops_dev.financial_transactions.streaming_landing;

CREATE CATALOG IF NOT EXISTS mlops_acc COMMENT 'financial_mlops acceptance';
CREATE SCHEMA IF NOT EXISTS mlops_acc.financial_transactions;
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.packages;
CREATE VOLUME IF NOT EXISTS mlops_acc.financial_transactions.streaming_landing;

CREATE CATALOG IF NOT EXISTS mlops_prd COMMENT 'financial_mlops production';
CREATE SCHEMA IF NOT EXISTS mlops_prd.financial_transactions;
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.packages;
CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.streaming_landing;

-- 3. Grants. Beyond the guide's USE CATALOG, USE SCHEMA, CREATE TABLE, SELECT and MODIFY, the
--    runner needs CREATE MATERIALIZED VIEW (the pipeline's batch tables) and CREATE MODEL (the
--    tournament registers anomaly_detector in this schema). Landing writers may write files only.
--    The CI deployer may create the pipeline's tables and upload wheels, but reads no data.
GRANT USE CATALOG, USE SCHEMA, CREATE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_dev TO `financial-mlops-developers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.streaming_landing TO `financial-mlops-developers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.packages TO `financial-mlops-developers`;
GRANT USE CATALOG ON CATALOG mlops_dev TO `financial-mlops-developers`;
GRANT USE SCHEMA ON SCHEMA mlops_dev.financial_transactions TO `financial-mlops-developers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.streaming_landing TO `financial-mlops-developers`;
GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW ON CATALOG mlops_dev TO `financial-mlops-ci-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.packages TO `financial-mlops-ci-sp`;

GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_acc TO `financial-mlops-acc-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.streaming_landing TO `financial-mlops-acc-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.packages TO `financial-mlops-acc-sp`;
GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-feed-acc`;
GRANT USE SCHEMA ON SCHEMA mlops_acc.financial_transactions TO `financial-mlops-feed-acc`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.streaming_landing TO `financial-mlops-feed-acc`;
GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW ON CATALOG mlops_acc TO `financial-mlops-ci-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.packages TO `financial-mlops-ci-sp`;

GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_prd TO `financial-mlops-prd-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.streaming_landing TO `financial-mlops-prd-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.packages TO `financial-mlops-prd-sp`;
GRANT USE CATALOG ON CATALOG mlops_prd TO `financial-mlops-feed-prd`;
GRANT USE SCHEMA ON SCHEMA mlops_prd.financial_transactions TO `financial-mlops-feed-prd`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.streaming_landing TO `financial-mlops-feed-prd`;
GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW ON CATALOG mlops_prd TO `financial-mlops-ci-sp`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.packages TO `financial-mlops-ci-sp`;

-- 4. Preflight: the pipeline fails to start when a table it defines already exists as an ordinary
--    table (created by hand, by an old notebook, or by a Kedro run writing to Unity Catalog).
--    This raises an error naming every such table; drop or rename them, then deploy the bundle.
SELECT CASE
         WHEN count(*) = 0 THEN 'preflight ok: no table blocks financial_streaming_pipeline'
         ELSE raise_error('tables that financial_streaming_pipeline must own already exist as ordinary tables: '
                          || array_join(sort_array(collect_list(table_catalog || '.' || table_schema || '.' || table_name)), ', '))
       END AS preflight
FROM system.information_schema.tables
WHERE table_catalog IN ('mlops_dev', 'mlops_acc', 'mlops_prd')
  AND table_schema = 'financial_transactions'
  AND table_name IN ('bronze_trades', 'silver_trades', 'silver_trades_quarantine', 'gold_trade_features')
  AND table_type NOT IN ('STREAMING_TABLE', 'MATERIALIZED_VIEW');
