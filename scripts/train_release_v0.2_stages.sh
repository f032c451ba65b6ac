#!/usr/bin/env bash
# Release v0.2, stages 2 and 3 (issue 16): GramGAN (Eq. 6-7) and HeptaGAN (Eq. 8) as short
# fine-tunes of the base run's result B, in training/release-v0.2/{gram,hepta}/. Run it again to
# resume (each stage's checkpoint, git-ignored, stays on the machine; a finished stage, its
# model/ present, is skipped):
#
#   OMP_NUM_THREADS=2 nohup nice -n 10 scripts/train_release_v0.2_stages.sh \
#     >> runs/release-v0.2-stages.log 2>&1 &
#
# Both stages: TrainConfig.fast() (the base run's G, central weight 10), AdamW 2e-4, every
# term of the stage at full weight from the first step (--ramp-start 0 --ramp-end 0: Eq. 2's
# difference term, the cycle flow of Eq. 4 and D, alpha = 5e-4, on top of the stage's own
# loss), EMA 0.995 (a fine-tune of a few hundred steps), validation every VAL_EVERY steps.
# GramGAN trains on 64 px crops (its VGG19 pass is the cost); with the random VGG19 fallback
# its Gram terms are nearly off (docs/training.md), so its effect is Eq. 6's content term on
# the averaged frames plus the adversarial and difference terms. What gets shipped is each
# stage's model/ (the end of the stage), scored against B in docs/model-card.md.
#
# Environment: scripts/release_v0.2_env.sh (DATA_ROOT, DATA, SPLIT, OUT_ROOT, BANK_DIR,
# BANK_SIZE, PYTHON), BASE (the stage-1 G, default OUT_ROOT/base/best), GRAM_STEPS and
# HEPTA_STEPS (1000 each), GRAM_CROP (64), VAL_EVERY (250), CKPT_EVERY (100), EXTRA_ARGS (more
# `blurvid train` options; the CPU test passes a tiny G).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/release_v0.2_env.sh
BASE=${BASE:-$OUT_ROOT/base/best}
# the bank of the base run's current seed (rendered again if this machine lacks it)
seed=$(cat "$OUT_ROOT/base/bank_seed" 2>/dev/null || echo 1)
echo "[$(date -u +%FT%TZ)] release-v0.2 stages: bank seed $seed, B = $BASE"
BANK=$(render_bank "$seed")
val_args "${VAL_EVERY:-250}"
# HeptaGAN's input: B's own frames re-blurred (prediction; with the sharp truth,
# ground_truth, it took the motion away: 0.31 against B's 0.48)
COMMON=(--recipe fast --out "$OUT_ROOT" --data "bank:$BANK" "${VAL[@]}" --batch-size 8
  --hepta-source "${HEPTA_SOURCE:-prediction}"
  --lr 2e-4 --ramp-start 0 --ramp-end 0 --ema-decay 0.995 --resume auto
  --ckpt-every "${CKPT_EVERY:-100}" --sample-every 0 --log-every 50 -q)
prev=$BASE
for stage in gram hepta; do
  if [ ! -f "$OUT_ROOT/$stage/model/config.json" ]; then
    extra=()
    [ "$stage" = gram ] && extra=(--crop "${GRAM_CROP:-64}")
    steps_var=${stage^^}_STEPS
    "$PYTHON" -m blurvid train --stage "$stage" --init "$prev" "${COMMON[@]}" \
      --steps "${!steps_var:-1000}" "${extra[@]}" ${EXTRA_ARGS:-}
    echo "[$(date -u +%FT%TZ)] release-v0.2 stages: $stage finished"
  fi
  prev=$OUT_ROOT/$stage/model
done
