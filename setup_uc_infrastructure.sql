-- Unity Catalog objects of financial_mlops for dev, acc and prd (guide: docs/deploy.md).
-- Run once, top to bottom, in the Databricks SQL editor or a %sql cell, as a principal that holds
-- CREATE CATALOG on the metastore. Every statement is idempotent: re-running it changes nothing.
-- Do NOT create bronze_trades, silver_trades, silver_trades_quarantine or gold_trade_features
-- here: financial_streaming_pipeline must own them (see the preflight check at the end).

-- 1. Principals. Replace the defaults with your account groups, users or service principals
--    (service principals by application ID). *_runner runs the bundle's jobs and pipeline;
--    *_landing_writer drops trade files into the streaming_landing volume from outside.
DECLARE OR REPLACE VARIABLE dev_runner STRING DEFAULT 'financial-mlops-developers';
DECLARE OR REPLACE VARIABLE acc_runner STRING DEFAULT 'financial-mlops-acc-sp';
DECLARE OR REPLACE VARIABLE prd_runner STRING DEFAULT 'financial-mlops-prd-sp';
DECLARE OR REPLACE VARIABLE dev_landing_writer STRING DEFAULT 'financial-mlops-developers';
DECLARE OR REPLACE VARIABLE acc_landing_writer STRING DEFAULT 'financial-mlops-feed-acc';
DECLARE OR REPLACE VARIABLE prd_landing_writer STRING DEFAULT 'financial-mlops-feed-prd';

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
EXECUTE IMMEDIATE 'GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_dev TO `' || dev_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.streaming_landing TO `' || dev_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.packages TO `' || dev_runner || '`';
EXECUTE IMMEDIATE 'GRANT USE CATALOG ON CATALOG mlops_dev TO `' || dev_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT USE SCHEMA ON SCHEMA mlops_dev.financial_transactions TO `' || dev_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_dev.financial_transactions.streaming_landing TO `' || dev_landing_writer || '`';

EXECUTE IMMEDIATE 'GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_acc TO `' || acc_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.streaming_landing TO `' || acc_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.packages TO `' || acc_runner || '`';
EXECUTE IMMEDIATE 'GRANT USE CATALOG ON CATALOG mlops_acc TO `' || acc_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT USE SCHEMA ON SCHEMA mlops_acc.financial_transactions TO `' || acc_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_acc.financial_transactions.streaming_landing TO `' || acc_landing_writer || '`';

EXECUTE IMMEDIATE 'GRANT USE CATALOG, USE SCHEMA, CREATE TABLE, CREATE MATERIALIZED VIEW, CREATE MODEL, SELECT, MODIFY ON CATALOG mlops_prd TO `' || prd_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.streaming_landing TO `' || prd_runner || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.packages TO `' || prd_runner || '`';
EXECUTE IMMEDIATE 'GRANT USE CATALOG ON CATALOG mlops_prd TO `' || prd_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT USE SCHEMA ON SCHEMA mlops_prd.financial_transactions TO `' || prd_landing_writer || '`';
EXECUTE IMMEDIATE 'GRANT READ VOLUME, WRITE VOLUME ON VOLUME mlops_prd.financial_transactions.streaming_landing TO `' || prd_landing_writer || '`';

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
