#!/usr/bin/env bash
# Build the project wheel and the conf archive (conf/ without conf/local) into dist/:
#   dist/financial_mlops-<version>-py3-none-any.whl   dist/conf-financial_mlops.tar.gz
# The one packaging command, used as is by the Databricks bundle artifact. Older wheels are removed
# first so that the bundle's dist/*.whl always means this build. PYTHON picks the interpreter
# (default: python, e.g. the project's activated venv); it needs kedro and build installed.
# The wheel records the commit it is built from (a wheel has no git checkout): GIT_COMMIT when
# set (CI may pass its own, e.g. ${{ github.sha }}), else this checkout's HEAD; a source copy
# without git builds a wheel whose commit is `unknown`, which Databricks envs refuse to promote.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f dist/financial_mlops-*.whl dist/conf-financial_mlops.tar.gz
record=src/financial_mlops/BUILD_COMMIT
commit="${GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}"
if [ -n "$commit" ]; then
  printf '%s\n' "$commit" > "$record"
  trap 'rm -f "$record"' EXIT   # an editable install keeps asking git, never a stale record
else
  echo "build_package.sh: no git commit (not a git checkout, GIT_COMMIT unset): the wheel's commit is 'unknown'" >&2
fi
"${PYTHON:-python}" -m kedro package
