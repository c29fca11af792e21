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
# The browser tests (tests/test_pages.py, marked "browser") drive the system's Chromium.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Chromium for the browser tests (apt-get install chromium)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "The browser tests need /usr/bin/chromium, which is missing: install it as root" >&2
        echo "with 'apt-get install -y chromium', or leave them out: scripts/test.sh -m 'not browser'" >&2
    fi
fi
.venv/bin/python -m pytest "$@"
