#!/usr/bin/env bash
# One command for a fresh machine: set up .venv, fetch the offline movie text, build the
# artifacts of the built-in data (or $MOVIE_DATA) and start the dashboard.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m core build ${MOVIE_DATA:+--data "$MOVIE_DATA"}
# glibc gives each thread that allocates at once a malloc arena of its own (up to 8 per core)
# and keeps what was freed there; every session's script runs on a new thread, so without a cap
# the server grows with each wave of visitors (docs/experiments/serving.md). glibc reads it when
# the process starts, so it is set here rather than from the app.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec .venv/bin/streamlit run streamlit_app.py "$@"
