#!/usr/bin/env bash
# Release v0.3 (issue 31): release v0.2's base run continued from its best (step 87 000) on the
# data that issue 29 measured best (docs/training.md, "Content and camera realism"): the release
# mix plus procedural dead-leaves scenes (a quarter of the samples; camera realism off). It is
# scripts/train_release_v0.2.sh with v0.3's settings, so it resumes the same way after every
# session stop:
#
#   BANK_MINUTES=60 OMP_NUM_THREADS=2 nohup nice -n 10 scripts/train_release_v0.3.sh \
#     >> runs/release-v0.3.log 2>&1 &
#
# The first start continues from training/release-v0.2/b-step87000 (G, its EMA and the step
# count 87 000: the 400 000-step cosine goes on where v0.2's best was; Adam starts fresh with a
# 200-step warm-up); later starts resume from the checkpoint, or from latest/ in a fresh clone.
#
# Stopping rule (stated before the start, as v0.2's): the run stops when the best centre-frame
# validation gain of its last 5 hours of training has not risen by 0.2 dB over its best before
# them (`python scripts/plot_release_curve.py training/release-v0.3/base/log.jsonl`), or when a
# bundled v0.3 needs the CPU for its stages. Then stages 2 and 3 run from base/best as v0.2's did
# (scripts/train_release_v0.2_stages.sh with OUT_ROOT / BASE / CAMERA of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_ROOT=${DATA_ROOT:-../shared/data}
export DATA_ROOT
# the winner of benchmarks/content_realism.py (docs/training.md): release v0.2's mix + leaves
# (a quarter of the samples); camera realism off (it lost 0.2 dB at equal steps)
export DATA=${DATA:-"photos:$DATA_ROOT/photos@3 stills:$DATA_ROOT/video@3 leaves:$DATA_ROOT/photos@2.5 video:$DATA_ROOT/video@1 frames:$DATA_ROOT/frames/sintel_raft@0.5"}
export CAMERA=${CAMERA:-off}
export OUT_ROOT=${OUT_ROOT:-training/release-v0.3}
export BANK_DIR=${BANK_DIR:-runs/release-v0.3/banks}
RUN=$OUT_ROOT/base
if [ ! -f "$RUN/checkpoint.safetensors" ] && [ ! -f "$RUN/latest/model.safetensors" ]; then
  export CONTINUE_FROM=${CONTINUE_FROM:-training/release-v0.2/b-step87000}
fi
exec bash scripts/train_release_v0.2.sh
