#!/usr/bin/env bash
# One command for a fresh machine: set up .venv, fetch the offline movie text, build the
# artifacts of the built-in data (or $MOVIE_DATA) and start the dashboard.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m core build ${MOVIE_DATA:+--data "$MOVIE_DATA"}
exec .venv/bin/streamlit run streamlit_app.py "$@"
