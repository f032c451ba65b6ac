#!/usr/bin/env bash
# The whole command of one lent-GPU call of the release run (issue 16), on the device machine:
#
#   OUT=... bash scripts/gpu_release_session.sh     # with gpu-data/ (scripts/prepare_gpu_carry.sh) carried
#
# Trains with scripts/train_gpu.sh into a scratch folder RUN in SEGMENTS (minutes each, default
# "2.3 2.3 2.3"; each segment resumes the previous one's checkpoint exactly) and after each one
# exports the EMA weights to $OUT/sN/model.safetensors, so that the snapshots can be validated
# back here when the GPU could not (no frames/sam2_bedroom carried). The 27 MB checkpoint does
# not come back: $OUT's files must be under 16 MiB, at most 8 and two folders down. Also back:
# config.json, log.jsonl (its data_s / step_s: where the time went), bench-data.json and
# bench-data-parallel.json (one render vs WORKERS at once, wall time) and the console log gpu.log
# (8 files: the limit). Back here: validate the snapshots and
# continue the CPU run from the better of them and its own (training/README.md).
# Environment: as scripts/train_gpu.sh (BATCH, WORKERS, CONTINUE_FROM, ...); PYTHON (python3);
# UINT8_FROM (2: the first segment with --loader-uint8; 99: none).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder whose files come back}"
# (OMP_NUM_THREADS: the main process only feeds the GPU; the loader workers use one thread each)
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHON=${PYTHON:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
RUN=${RUN:-/tmp/gpu-release}
nvidia-smi -L 2>/dev/null || true
"$PYTHON" -c "import torch, blurvid; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/gpu.log"
# the CPU's speed at rendering one sample (CPU time, beside a reference convolution), to compare
# with this machine's benchmarks/results/data-*.json when the log's data_s says data-bound
# and whether WORKERS copies of it really run side by side there (wall time, one vs WORKERS)
photo=$(find "${DATA_ROOT:-gpu-data}/photos" -type f | sort | head -1)
"$PYTHON" benchmarks/bench_data.py --photo "$photo" --samples 20 --clock wall \
  --out "$OUT/bench-data.json" 2>&1 | tee -a "$OUT/gpu.log"
"$PYTHON" benchmarks/bench_data.py --photo "$photo" --samples 20 --clock wall \
  --parallel "${WORKERS:-14}" --out "$OUT/bench-data-parallel.json" 2>&1 | tail -3 | tee -a "$OUT/gpu.log"
n=0
rc=0
for minutes in ${SEGMENTS:-2.3 2.3 2.3}; do
  n=$((n + 1))
  # an A/B inside the call: segments from UINT8_FROM on ship the batches from the workers as
  # uint8 (--loader-uint8, 4x less inter-process traffic); compare the log's data_s per segment
  extra=${EXTRA_ARGS:-}
  if [ "$n" -ge "${UINT8_FROM:-2}" ]; then extra="$extra --loader-uint8"; fi
  echo "gpu_release_session: segment $n, $minutes min, EXTRA_ARGS=$extra" | tee -a "$OUT/gpu.log"
  EXTRA_ARGS=$extra MINUTES=$minutes bash scripts/train_gpu.sh "$RUN" "${CHECKPOINT:-none}" 2>&1 | tee -a "$OUT/gpu.log"
  rc=${PIPESTATUS[0]}
  [ -f "$RUN/base/checkpoint.safetensors" ] || break
  "$PYTHON" -m blurvid export "$RUN/base" "$RUN/base/s$n" 2>&1 | tee -a "$OUT/gpu.log"
  mkdir -p "$OUT/s$n" && cp "$RUN/base/s$n/model.safetensors" "$OUT/s$n/"
  cp "$RUN/base/s$n/config.json" "$OUT/config.json"
  [ "$rc" = 0 ] || break
done
if [ -f "$RUN/base/log.jsonl" ]; then cp "$RUN/base/log.jsonl" "$OUT/"; fi
echo "gpu_release_session: last train_gpu.sh exited with $rc; back in \$OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
exit "$rc"
