#!/usr/bin/env bash
# Create .venv (Python 3.11) with torch, torchvision and this package with its extras, and
# Fashion-MNIST from Debian where apt is available. Safe to rerun: does nothing when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/setup_env.sh ]; then
    exit 0
fi

py=""
for candidate in "${PYTHON:-}" python3.11 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        py=$candidate; break
    fi
done
if [ -z "$py" ]; then
    echo "error: Python 3.11 not found. Install it (or set PYTHON=/path/to/python3.11), or use environment.yml with conda." >&2
    exit 1
fi

[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip

# torch first, the build that installs on this kind of machine (see README, "Environment").
case "$(uname -m)" in
    x86_64)  torch_pins="torch==2.14.1 torchvision==0.29.1" ;;
    aarch64) torch_pins="torch==2.9.1 torchvision==0.24.1" ;;
    *)       torch_pins="torch torchvision" ;;
esac
echo "installing $torch_pins into .venv ..."
.venv/bin/python -m pip install --quiet $torch_pins
echo "installing dml_utils[dev] into .venv ..."
# setuptools prints an "Editable installation" notice even under --quiet: kept in a log, shown on failure
if ! .venv/bin/python -m pip install --quiet -e ".[dev]" > .venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    echo "error: installing dml_utils[dev] failed (log above, kept in .venv/pip-install.log)" >&2
    exit 1
fi

# Fashion-MNIST: Debian's package puts the four IDX files in /usr/share/datasets/fashion-mnist.
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing Debian's dataset-fashion-mnist ..."
        (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
            || echo "warning: could not install dataset-fashion-mnist; notebooks that need Fashion-MNIST will say how to provide it" >&2
    else
        echo "note: Fashion-MNIST not found; run 'sudo apt-get install dataset-fashion-mnist' or pass data_root" >&2
    fi
fi
touch "$stamp"
