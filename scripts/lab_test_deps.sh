#!/usr/bin/env bash
# What `make lab-test` needs beyond .venv: Debian's chromium and the Playwright package (its driver
# only; the test points it at /usr/bin/chromium, so no browser is downloaded). Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing Debian's chromium ..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "error: the browser test needs Debian's chromium: sudo apt-get install chromium" >&2
        exit 1
    fi
fi
.venv/bin/python -c "import playwright" 2>/dev/null || .venv/bin/python -m pip install --quiet "playwright>=1.50"
