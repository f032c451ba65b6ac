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
PYTHON=${PYTHON:-python}
# the fixed validation set needs the held-out frame sequence (absent in the CPU tests' data)
VAL_DATA=()
if [ -d "$DATA_ROOT/frames/sam2_bedroom" ]; then
  VAL_DATA=(--val "$DATA_ROOT" --split "$SPLIT")
fi
