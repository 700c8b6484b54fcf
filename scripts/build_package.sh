#!/usr/bin/env bash
# Build the project wheel and the conf archive (conf/ without conf/local) into dist/:
#   dist/financial_mlops-<version>-py3-none-any.whl   dist/conf-financial_mlops.tar.gz
# The one packaging command, used as is by the Databricks bundle artifact. Older wheels are removed
# first so that the bundle's dist/*.whl always means this build. PYTHON picks the interpreter
# (default: python, e.g. the project's activated venv); it needs kedro and build installed.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f dist/financial_mlops-*.whl dist/conf-financial_mlops.tar.gz
"${PYTHON:-python}" -m kedro package
