#!/usr/bin/env bash
# One command for a fresh machine: set up .venv and run the whole test suite.
# Extra arguments go to pytest (e.g. ./test.sh -k loaders).
set -euo pipefail
cd "$(dirname "$0")"
SETUP_EXTRAS=test,spark source scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
