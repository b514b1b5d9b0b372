#!/usr/bin/env bash
# Installs the tools `python -m benchmarks.tracing.compare` measures roar
# against, each in its own venv under .bench-venvs/ (gitignored) so none of
# them touches roar's environment: the published roar-cli (PyPI) and
# reprozip, plus strace and b3sum from Debian. Used as a user would use
# them; nothing of these tools is copied into the repo.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
VENVS=.bench-venvs

venv() {  # venv NAME PACKAGE...
    local name=$1; shift
    if [ ! -x "$VENVS/$name/bin/python" ]; then
        "$PYTHON" -m venv "$VENVS/$name"
    fi
    "$VENVS/$name/bin/python" -m pip install -q --upgrade pip
    "$VENVS/$name/bin/python" -m pip install -q "$@" \
        || echo "setup_peers: could not install $* (the table will skip it)" >&2
}

if ! command -v strace >/dev/null || ! command -v b3sum >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q strace b3sum
    else
        echo "setup_peers: install strace and b3sum (apt-get install strace b3sum)" >&2
    fi
fi
venv roar-cli roar-cli
venv reprozip reprozip
# Answer reprozip's one-time usage-report question (nothing is sent).
"$VENVS/reprozip/bin/reprozip" usage_report --disable >/dev/null 2>&1 || true
