#!/usr/bin/env bash
# The release-v0.1 base-stage training run (CPU recipe). Run it again to resume after any stop:
#   OMP_NUM_THREADS=1 nohup nice -n 19 scripts/train_release_v0.1.sh >> runs/release-v0.1.log 2>&1 &
# The newest committed checkpoint lives in training/release-v0.1/ (runs/ is not tracked); it is
# copied into the run folder when the run folder has none. The 6,000-sample bank is rebuilt
# deterministically from ../shared/data (about 2 minutes) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=runs/release-v0.1/base
SAVED=training/release-v0.1
mkdir -p "$RUN"
if [ ! -f "$RUN/checkpoint.safetensors" ] && [ -f "$SAVED/checkpoint.safetensors" ]; then
  cp "$SAVED/checkpoint.safetensors" "$RUN/checkpoint.safetensors"
  cp "$SAVED/log.jsonl" "$RUN/log.jsonl" 2>/dev/null || true
fi
RESUME=()
[ -f "$RUN/checkpoint.safetensors" ] && RESUME=(--resume)
exec python -m blurvid train --recipe fast --stage base \
  --data photos:../shared/data/photos@3 --data video:../shared/data/video@1 \
  --data frames:../shared/data/frames/sintel_raft@0.5 \
  --bank-size 6000 --out runs/release-v0.1 --steps 30000 --batch-size 8 \
  --val ../shared/data --val-every 1000 --ckpt-every 200 --sample-every 2000 --log-every 50 \
  "${RESUME[@]}"
