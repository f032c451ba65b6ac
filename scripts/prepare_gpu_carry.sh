#!/usr/bin/env bash
# Copy the training data a lent GPU needs into gpu-data/ (git-ignored, ~26 MiB), to name in the
# device tool's `carry` (../shared does not travel). Usage: scripts/prepare_gpu_carry.sh [DATA_ROOT]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data}
rm -rf gpu-data && mkdir -p gpu-data/frames
cp -r "$SRC/photos" "$SRC/video" gpu-data/
cp -r "$SRC/frames/sintel_raft" "$SRC/frames/sam2_bedroom" gpu-data/frames/
du -sh gpu-data
