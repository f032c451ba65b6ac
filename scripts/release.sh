#!/usr/bin/env bash
# A release from its recipe file (scripts/release.py has the actions and options):
#
#   scripts/release.sh RECIPE.toml [render|train|stages|export|evaluate|bundle|status|all] \
#     [--dry-run] [--out DIR] [--data-root DIR] [-- BLURVID-TRAIN-OPTIONS]
#
# e.g. resume release v0.3 in the background (each session, first thing):
#   OMP_NUM_THREADS=2 nohup nice -n 10 scripts/release.sh recipes/release-v0.3.toml train \
#     >> runs/release-v0.3.log 2>&1 &
# PYTHON: the Python that runs blurvid (default python).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" scripts/release.py "$@"
