#!/usr/bin/env bash
# Release v0.2: one long base-stage run that outlives session stops (issue 16). Run it again to
# resume; it trains in the background until stopped, and every ${CKPT_EVERY:-500} steps writes a
# checkpoint that this script's caller commits (see training/README.md):
#
#   BANK_MINUTES=35 OMP_NUM_THREADS=2 nohup nice -n 10 scripts/train_release_v0.2.sh \
#     >> runs/release-v0.2.log 2>&1 &
#
# (not OMP_WAIT_POLICY=PASSIVE: 1.44x slower steps; docs/performance.md)
#
# What it does:
# 1. the run folder is training/release-v0.2/base/ (tracked: checkpoint.safetensors, log.jsonl,
#    best/ -- the EMA weights of the best validation so far -- and model/ when finished);
#    the big files (sample banks, sample images) are git-ignored;
# 2. every start renders a fresh sample bank (seed = the number of banks so far, kept in
#    training/release-v0.2/base/bank_seed), so a run over many sessions sees 6 000 new samples
#    per session instead of one bank reused for days; with BANK_MINUTES=M it also renders a
#    new one every M minutes of training (segments of `--time-limit M`, each resumed exactly
#    from the checkpoint): session 6 measured that one bank over ~18 000 steps is over-used
#    (a fresh bank lifted validation by +0.1 dB at once; training/README.md);
# 3. trains stage base with the learning-speed benchmark's recipe (RECIPE below, see
#    docs/training.md "Learning speed"): restoration losses only, EMA of the weights, a cosine
#    schedule that ends at STEPS; validation every 1 000 steps (centre-frame and
#    7-frame gains, motion ratio), the best one exported to best/.
# Stages gram and hepta are short fine-tunes of best/ once the base run has stopped improving:
# scripts/train_release_v0.2_stages.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# Environment: scripts/release_v0.2_env.sh (DATA_ROOT, DATA, SPLIT, OUT_ROOT, BANK_DIR,
# BANK_SIZE, PYTHON), STEPS, CKPT_EVERY, VAL_EVERY, BANK_MINUTES (0: one bank per start),
# EXTRA_ARGS (more `blurvid train` options; the CPU test passes a tiny G).
source scripts/release_v0.2_env.sh
RUN=$OUT_ROOT/base
# The schedule: steps 0-10 584 ran under a 400 000-step cosine (a rate near 1e-3; the gains
# flattened at +0.77 / +0.58 dB); session 5 annealed from there (STEPS=18000) and the
# validation gain fell (G memorised the 33 training photos; training/README.md), so it went
# back to best/ (step 9 000) with the video stills in the data and the long cosine again
# (CONTINUE_FROM=training/release-v0.2/base/best, once; later starts continue from latest/).
STEPS=${STEPS:-400000}
mkdir -p "$RUN" "$BANK_DIR"
# The full checkpoint (G, its EMA, Adam's moments: 27 MB) stays on the machine, not in git;
# what a session commits is latest/ (the EMA weights, `blurvid export`, 6.6 MB). A machine
# that still has the checkpoint resumes exactly; a fresh clone continues from latest/
# (--continue-from: its step count, the schedule and best/ carry on; Adam's moments start
# fresh with a new 200-step warm-up).
RESUME=(--resume auto)
CONTINUE_FROM=${CONTINUE_FROM:-$RUN/latest}
if [ -f "$CONTINUE_FROM/model.safetensors" ]; then RESUME+=(--continue-from "$CONTINUE_FROM"); fi
SEGMENT=()
if [ "${BANK_MINUTES:-0}" != 0 ]; then SEGMENT=(--time-limit "$BANK_MINUTES"); fi
val_args "${VAL_EVERY:-1000}"
while true; do
  seed=$(cat "$RUN/bank_seed" 2>/dev/null || echo 0)
  seed=$((seed + 1))
  echo "$seed" > "$RUN/bank_seed"
  echo "[$(date -u +%FT%TZ)] release-v0.2: rendering bank seed $seed"
  BANK=$(render_bank "$seed")
  # The recipe: BASE_ARGS in scripts/release_v0.2_env.sh.
  set +e
  "$PYTHON" -m blurvid train "${BASE_ARGS[@]}" --out "$OUT_ROOT" \
    --data "bank:$BANK" "${VAL[@]}" --steps "$STEPS" --ckpt-every "${CKPT_EVERY:-500}" \
    ${EXTRA_ARGS:-} "${SEGMENT[@]}" "${RESUME[@]}"
  rc=$?
  set -e
  echo "[$(date -u +%FT%TZ)] release-v0.2: trainer exited with $rc"
  # 75: the segment's time limit (BANK_MINUTES) -> next bank; anything else (done, stopped by
  # SIGTERM / Ctrl-C: 130, an error, or EXTRA_ARGS' own --time-limit) ends the script
  if [ "$rc" != 75 ] || [ ${#SEGMENT[@]} -eq 0 ]; then exit $rc; fi
done
