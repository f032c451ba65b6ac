#!/usr/bin/env bash
# Release v0.2: an annealed branch of the base run (issue 16). The base run trains at a
# constant rate near 1e-3 for days (scripts/train_release_v0.2.sh); this script takes one of
# its exports (FROM, default its best/), continues from it into ANNEAL_OUT with the same recipe
# and anneals the rate (cosine, --decay-start at FROM's step) to the recipe's lr_min over
# ANNEAL_STEPS steps, validating every VAL_EVERY steps; the branch's best/ is what a release
# bundles. The base run goes on untouched (run both at once, 1 thread each, or one after the
# other). Run it again to resume (its checkpoint stays on the machine; the step it branched
# from is kept in ANNEAL_OUT/base/from_step):
#
#   OMP_NUM_THREADS=1 nohup nice -n 10 scripts/anneal_release_v0.2.sh \
#     >> runs/release-v0.2-anneal.log 2>&1 &
#
# Environment: scripts/release_v0.2_env.sh (DATA_ROOT, DATA, SPLIT, OUT_ROOT, BANK_DIR,
# BANK_SIZE, PYTHON, BASE_ARGS), FROM (OUT_ROOT/base/best), ANNEAL_OUT (OUT_ROOT-anneal),
# ANNEAL_STEPS (2000), VAL_EVERY (500), CKPT_EVERY (250), EXTRA_ARGS (more `blurvid train`
# options; the CPU test passes a tiny G).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/release_v0.2_env.sh
FROM=${FROM:-$OUT_ROOT/base/best}
ANNEAL_OUT=${ANNEAL_OUT:-$OUT_ROOT-anneal}
mkdir -p "$ANNEAL_OUT/base"
if [ -f "$ANNEAL_OUT/base/checkpoint.safetensors" ] && [ -f "$ANNEAL_OUT/base/from_step" ]; then
  start=$(cat "$ANNEAL_OUT/base/from_step")  # resuming: the branch point stays where it was
else
  start=$("$PYTHON" -c 'import sys; from blurvid import load_model; print(load_model(sys.argv[1]).metadata["steps"])' "$FROM")
  echo "$start" > "$ANNEAL_OUT/base/from_step"
fi
end=$((start + ${ANNEAL_STEPS:-2000}))
# the bank of the base run's current seed (rendered again if this machine lacks it)
seed=$(cat "$OUT_ROOT/base/bank_seed" 2>/dev/null || echo 1)
echo "[$(date -u +%FT%TZ)] release-v0.2 anneal: from $FROM (step $start) to step $end, bank seed $seed"
BANK=$(render_bank "$seed")
val_args "${VAL_EVERY:-500}"
set +e
"$PYTHON" -m blurvid train "${BASE_ARGS[@]}" --out "$ANNEAL_OUT" \
  --data "bank:$BANK" "${VAL[@]}" --steps "$end" --decay-start "$start" \
  --ckpt-every "${CKPT_EVERY:-250}" ${EXTRA_ARGS:-} --resume auto --continue-from "$FROM"
rc=$?
echo "[$(date -u +%FT%TZ)] release-v0.2 anneal: trainer exited with $rc"
exit $rc
