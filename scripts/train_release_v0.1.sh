#!/usr/bin/env bash
# The release-v0.1 base-stage run (CPU). Re-run this script to resume after any stop.
cd "$(dirname "$0")/.."
exec python -m blurvid train --recipe fast --stage base \
  --data photos:../shared/data/photos@3 --data video:../shared/data/video@1 --data frames:../shared/data/frames/sintel_raft@0.5 \
  --bank-size 6000 --out runs/release-v0.1 --steps 30000 --batch-size 8 --val ../shared/data --val-every 1000 \
  --ckpt-every 200 --sample-every 2000 --log-every 50 --resume
