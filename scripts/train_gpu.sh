#!/usr/bin/env bash
# One lent GPU session of the release run (issue 16): resume the latest checkpoint, train with a
# large batch in bf16 for MINUTES, write the checkpoint to OUT. Run on the device machine:
#
#   scripts/train_gpu.sh "$OUT" [CHECKPOINT]       # CHECKPOINT default: the committed
#                                                  # training/release-v0.2/base/checkpoint.safetensors
# On a lent GPU, scripts/gpu_release_session.sh runs it (in segments, with an EMA snapshot
# back after each: the checkpoint is too large for the device tool's $OUT) and
# scripts/gpu_carry.sh makes the call fit; training/README.md has the steps.
# Environment (defaults for an H200 with 16 CPU cores): INIT (a model folder to start a new run
# from when there is no checkpoint; default: continue from CONTINUE_FROM, default
# training/release-v0.2/base/latest), MINUTES=9 BATCH=32 WORKERS=14
# PYTHON=python, DATA_ROOT=gpu-data, DATA (space-separated --data specs; default: the release mix under
# DATA_ROOT), SPLIT (scripts/data_split.json: the files held out for validation), EXTRA_ARGS
# (more `blurvid train` options; the CPU test passes a tiny G).
# Samples are rendered on the fly by WORKERS processes (no bank: a bank does not fit the
# 64 MiB carry); bf16 autocast and channels-last are the trainer's CUDA defaults.
# Exit code: 0 finished, 75 time limit reached (the normal case), anything else an error.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/train_gpu.sh OUT_DIR [CHECKPOINT]}
CKPT=${2:-training/release-v0.2/base/checkpoint.safetensors}
DATA_ROOT=${DATA_ROOT:-gpu-data}
mkdir -p "$OUT/base"
if [ -f "$CKPT" ] && [ ! -f "$OUT/base/checkpoint.safetensors" ]; then
  cp "$CKPT" "$OUT/base/checkpoint.safetensors"
fi
# the checkpoint (carry it: not in git), else the committed EMA weights in latest/ (the run goes
# on from their step: --continue-from), else INIT (a new run from those weights)
RESUME=()
if [ -f "$OUT/base/checkpoint.safetensors" ]; then
  RESUME=(--resume)
elif [ -n "${INIT:-}" ]; then
  if [ -f "$INIT/model.safetensors" ]; then RESUME=(--init "$INIT"); fi  # else a new G
elif [ -f "${CONTINUE_FROM:-training/release-v0.2/base/latest}/model.safetensors" ]; then
  RESUME=(--resume auto --continue-from "${CONTINUE_FROM:-training/release-v0.2/base/latest}")
fi
VAL=()
[ -d "$DATA_ROOT/frames/sam2_bedroom" ] && VAL=(--val "$DATA_ROOT" --split "${SPLIT:-scripts/data_split.json}" --val-every "${VAL_EVERY:-500}")
set +e
# the release mix of scripts/release_v0.2_env.sh (stills: synthetic shake on the video stills)
DATA=${DATA:-"photos:$DATA_ROOT/photos@3 stills:$DATA_ROOT/video@3 video:$DATA_ROOT/video@1 frames:$DATA_ROOT/frames/sintel_raft@0.5"}
DATA_ARGS=()
for spec in $DATA; do DATA_ARGS+=(--data "$spec"); done
"${PYTHON:-python}" -m blurvid train --stage base --recipe fast --out "$OUT" "${DATA_ARGS[@]}" \
  --steps "${STEPS:-400000}" --batch-size "${BATCH:-32}" --workers "${WORKERS:-14}" \
  --ramp-start 1.0 --ramp-end 1.0 --adv-weight 0 --flow-weight 0 --ema-decay 0.999 \
  --enc-blocks "${ENC_BLOCKS:-1,1,2}" --middle-blocks "${MIDDLE_BLOCKS:-4}" --dec-blocks "${DEC_BLOCKS:-1,1,1}" \
  --g-init "${G_INIT:-kaiming}" \
  --central-weight "${CENTRAL_WEIGHT:-10}" \
  --ckpt-every "${CKPT_EVERY:-200}" --sample-every 0 --log-every 50 -q \
  --time-limit "${MINUTES:-9}" "${VAL[@]}" ${EXTRA_ARGS:-} "${RESUME[@]}"
rc=$?
echo "train_gpu: trainer exited with $rc; checkpoint in $OUT/base/checkpoint.safetensors"
[ "$rc" = 75 ] && exit 0
exit $rc
