#!/usr/bin/env bash
# Install codesvc with its test tools into .venv, then lint, type-check and run the tests.
# Needs only python3 (3.11+); the tests start their own PostgreSQL unless
# CODESVC_TEST_DATABASE_URL names one. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c requirements.lock -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
