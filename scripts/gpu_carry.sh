#!/usr/bin/env bash
# Get this checkout ready for one lent-GPU call of the release run (issue 16), and back.
# The device tool sends the working tree (tracked and untracked-not-ignored files) plus the
# `carry` paths, 64 MiB in all; this repository's tracked files alone are ~97 MB (the committed
# training runs), and ../shared does not travel. So:
#
#   scripts/gpu_carry.sh prepare [DATA_ROOT]   # gpu-data/: photos, video, the sintel frames (no
#                                              # validation sequence: no room), latest/ in fp16;
#                                              # .whl/: PyAV for python 3.12 (the device lacks it)
#   scripts/gpu_carry.sh shrink                # for the call: the index holds only what the run
#                                              # needs (src/ less the bundled weights, scripts/,
#                                              # benchmarks/bench_data.py, pyproject.toml), the
#                                              # rest ignored through .git/info/exclude
#   ... run(command="python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site && OUT=$OUT CONTINUE_FROM=gpu-data/latest DATA_ROOT=gpu-data bash scripts/gpu_release_session.sh",
#           carry=["gpu-data", ".whl"], timeout_s=600)
#   scripts/gpu_carry.sh restore               # the index back to HEAD, .git/info/exclude back
#
# `shrink` changes only the index and .git/info/exclude (no file is touched, nothing is
# committed); `restore` undoes it, and must run before the next commit. Session 8 measured it:
# ~61 MiB travelled.
set -euo pipefail
cd "$(dirname "$0")/.."
EXCLUDE=.git/info/exclude
case "${1:-}" in
prepare)
  SRC=${2:-../shared/data}
  rm -rf gpu-data && mkdir -p gpu-data/frames gpu-data/latest
  cp -r "$SRC/photos" "$SRC/video" gpu-data/
  cp -r "$SRC/frames/sintel_raft" gpu-data/frames/
  "${PYTHON:-python}" - <<'PY'
import torch
import blurvid
from blurvid.hub import provenance, save_folder
model = blurvid.load_model("training/release-v0.2/base/latest")
meta = provenance(model)
save_folder(model, "gpu-data/latest", dtype=torch.float16, metadata=meta)
print("gpu-data/latest: step", meta.get("steps"), "(fp16)")
PY
  AV=$("${PYTHON:-python}" -c "import av; print(av.__version__)" 2>/dev/null || echo 18.1.0)
  grep -qx '/.whl/' "$EXCLUDE" 2>/dev/null || echo '/.whl/' >> "$EXCLUDE"
  rm -rf .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "av==$AV"
  du -sh gpu-data .whl
  ;;
shrink)
  cp "$EXCLUDE" "$EXCLUDE.before-gpu" 2>/dev/null || : > "$EXCLUDE.before-gpu"
  printf '%s\n' '/*' '!/src/' '!/scripts/' '!/benchmarks/' '!/pyproject.toml' \
    '/src/blurvid/weights/' '/benchmarks/*' '!/benchmarks/bench_data.py' '/.whl/' >> "$EXCLUDE"
  git read-tree --empty  # (the staged changes go too: restore brings back HEAD's index)
  git add src scripts benchmarks pyproject.toml
  kib=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -ck | tail -1 | cut -f1)
  extra=$(du -sk gpu-data .whl 2>/dev/null | awk '{s += $1} END {print s + 0}')
  echo "gpu_carry: the tree ${kib} KiB + carry ${extra} KiB = $(( (kib + extra) / 1024 )) MiB (limit 64)"
  echo "gpu_carry: run 'scripts/gpu_carry.sh restore' after the call, before any commit"
  ;;
restore)
  git reset -q
  if [ -f "$EXCLUDE.before-gpu" ]; then mv "$EXCLUDE.before-gpu" "$EXCLUDE"; fi
  git status --short | head -20
  ;;
*)
  echo "usage: scripts/gpu_carry.sh prepare [DATA_ROOT] | shrink | restore" >&2
  exit 2
  ;;
esac
