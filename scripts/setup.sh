#!/usr/bin/env bash
# Create .venv and install the project (CPU-only torch), skipping work already done.
# Sourced by run.sh (the app) and test.sh (the app plus the test and Spark extras); safe to run
# again at any time. SETUP_EXTRAS picks the extras: "" for the app, "test,spark" for tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi

extras="${SETUP_EXTRAS:-}"
stamp=.venv/.requirements.sha
want=$(cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)-$extras
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing the project${extras:+ with [$extras]} (torch==2.13.0 CPU build)"
  .venv/bin/python -m pip install --quiet --upgrade pip wheel
  # torch first and pinned, so nothing later can pull the multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
