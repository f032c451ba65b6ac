# Sourced by scripts/train_release_v0.2.sh and scripts/train_release_v0.2_stages.sh: the
# settings both read from the environment, with their defaults.
# DATA_ROOT (../shared/data), DATA (space-separated --data specs of the bank; default the
# release mix under DATA_ROOT), SPLIT (scripts/data_split.json: the photos and the frame
# sequence held out of the bank for validation), OUT_ROOT (training/release-v0.2), BANK_DIR
# (runs/release-v0.2/banks), BANK_SIZE (6000), PYTHON (python).
DATA_ROOT=${DATA_ROOT:-../shared/data}
SPLIT=${SPLIT:-scripts/data_split.json}
# (stills: since session 5, synthetic shake on 144 video stills beside the 33 photos: G had
# memorised the photos' content)
DATA=${DATA:-"photos:$DATA_ROOT/photos@3 stills:$DATA_ROOT/video@3 video:$DATA_ROOT/video@1 frames:$DATA_ROOT/frames/sintel_raft@0.5"}
OUT_ROOT=${OUT_ROOT:-training/release-v0.2}
BANK_DIR=${BANK_DIR:-runs/release-v0.2/banks}
BANK_SIZE=${BANK_SIZE:-6000}
# CAMERA: camera realism of the synthetic sources (`blurvid train --camera`; release v0.2: off)
CAMERA=${CAMERA:-off}
PYTHON=${PYTHON:-python}
# the fixed validation set needs the held-out frame sequence (absent in the CPU tests' data)
VAL_DATA=()
if [ -d "$DATA_ROOT/frames/sam2_bedroom" ]; then
  VAL_DATA=(--val "$DATA_ROOT" --split "$SPLIT")
fi
# val_args N: VAL = the validation options, every N steps (none without VAL_DATA)
val_args() {
  VAL=()
  if [ ${#VAL_DATA[@]} -gt 0 ]; then VAL=("${VAL_DATA[@]}" --val-every "$1"); fi
}
# render_bank SEED: print the path of the sample bank of that seed (rendered unless this
# machine has it; the other seeds' banks are deleted)
render_bank() {
  "$PYTHON" scripts/render_release_bank.py "$DATA" "$1" "$BANK_SIZE" "$BANK_DIR" "$SPLIT" "$CAMERA"
}
# The base stage's recipe, shared by the run (scripts/train_release_v0.2.sh) and its annealed
# branches (scripts/anneal_release_v0.2.sh): TrainConfig.fast(), restoration only (ramp at 1.0:
# no difference/flow/adversarial terms in this stage), EMA 0.999, no discriminator; G with its
# extra blocks at low resolution (1.70 M parameters, the same 720p inference time as the
# default), NAFNet's initialisation of the body (--g-init kaiming: with the paper's N(0, 0.01)
# everywhere the gated blocks never opened and attempt 1, training/release-v0.2-attempt1/,
# stayed a linear filter) and the centre frame's MSE at weight 10: the benchmark's
# "centre10-deep-ema-kaiming" (docs/training.md). ENC_BLOCKS, MIDDLE_BLOCKS, DEC_BLOCKS, G_INIT,
# CENTRAL_WEIGHT override it.
BASE_ARGS=(--stage base --recipe fast --batch-size 8
  --ramp-start 1.0 --ramp-end 1.0 --adv-weight 0 --flow-weight 0 --ema-decay 0.999
  --enc-blocks "${ENC_BLOCKS:-1,1,2}" --middle-blocks "${MIDDLE_BLOCKS:-4}" --dec-blocks "${DEC_BLOCKS:-1,1,1}"
  --g-init "${G_INIT:-kaiming}" --central-weight "${CENTRAL_WEIGHT:-10}" --camera "$CAMERA"
  --sample-every 0 --log-every 100 -q)
# bf16 autocast on the CPU (--cpu-amp, from session 7 at step ~37 500): 1.2-1.3x faster steps
# where the CPU has native bf16 (benchmarks/bench_cpu_amp.py), gradients within ~2 % of
# float32; CPU_AMP=auto (default) turns it on only there, 1 always, 0 never.
CPU_AMP=${CPU_AMP:-auto}
if [ "$CPU_AMP" = auto ]; then
  CPU_AMP=0
  if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo 2>/dev/null; then CPU_AMP=1; fi
fi
if [ "$CPU_AMP" = 1 ]; then BASE_ARGS+=(--cpu-amp); fi
