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
# The browser tests (tests/test_pages.py, marked "browser") drive the system's Chromium; the
# drills (tests/test_drills.py, marked "drill") run a Patroni cluster of the system's
# PostgreSQL. Missing ones are installed when this runs as root with apt; otherwise those
# tests fail and say what to install.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v patroni_raft_controller >/dev/null || missing+=(patroni)
/usr/bin/python3 -c 'import pysyncobj' 2>/dev/null || missing+=(python3-pysyncobj)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing what the browser tests and drills need: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "Missing for the browser tests and drills: ${missing[*]}; install them as root with" >&2
        echo "'apt-get install -y ${missing[*]}', or leave those tests out:" >&2
        echo "scripts/test.sh -m 'not browser and not drill'" >&2
    fi
fi
# The screenshots (docs/, with CODESVC_SCREENSHOTS=1) show Chinese: a CJK font renders it.
if ! fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing a CJK font for the browser tests (apt-get install fonts-noto-cjk)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
    else
        echo "Without a CJK font (fonts-noto-cjk) the screenshots show boxes for Chinese" >&2
    fi
fi
.venv/bin/python -m pytest "$@"
