#!/usr/bin/env bash
# Get this checkout ready for one lent-GPU call (scripts/gpu_session.py), and back.
# The device tool sends the working tree (tracked and untracked-not-ignored files) plus the
# `carry` paths, 64 MiB in all; this repository's tracked files alone are ~97 MB (the committed
# training runs), ../shared does not travel, and the device machine has no PyAV. So:
#
#   scripts/gpu_carry.sh prepare [DATA_ROOT] [EXPORT]
#       # shared-copy/ (git-ignored, ~30 MB): photos/, stills/ (the release mix's video stills,
#       # extracted here as JPEG: no PyAV needed there), frames/sintel_raft/ (real footage),
#       # frames/sam2_bedroom/ (the held-out sequence: validation on the GPU), latest/ (EXPORT,
#       # default training/release-v0.3/base/latest, fp16)
#   scripts/gpu_carry.sh shrink
#       # for the call: the index holds only what the session needs (src/ less the bundled
#       # weights, scripts/, pyproject.toml), the rest ignored through .git/info/exclude
#   ... run(command="OUT=$OUT python3 scripts/gpu_session.py shared-copy",
#           carry=["shared-copy"], timeout_s=600)
#   scripts/gpu_carry.sh restore
#       # the index back to HEAD, .git/info/exclude back: before the next commit
#
# `shrink` changes only the index and .git/info/exclude (no file is touched, nothing is
# committed); `restore` undoes it. The device machine's python3 holds torch with CUDA (2.11 in
# 2026-11) and every other dependency of blurvid; the session puts src/ on sys.path itself.
set -euo pipefail
cd "$(dirname "$0")/.."
EXCLUDE=$(git rev-parse --git-path info/exclude)
case "${1:-}" in
prepare)
  SRC=${2:-../shared/data}
  EXPORT=${3:-training/release-v0.3/base/latest}
  rm -rf shared-copy && mkdir -p shared-copy/frames shared-copy/stills
  cp -r "$SRC/photos" shared-copy/
  cp -r "$SRC/frames/sintel_raft" "$SRC/frames/sam2_bedroom" shared-copy/frames/
  cp -r "$EXPORT" shared-copy/latest
  "${PYTHON:-python}" - "$SRC/video" <<'PY'
import sys
from blurvid.data import video_stills
from blurvid.io import frames_to_pil
for i, still in enumerate(video_stills(sys.argv[1])):  # as the worker path's stills: spec
    frames_to_pil(still[None])[0].save(f"shared-copy/stills/still_{i:03d}.jpg", quality=95)
PY
  du -sh shared-copy
  ;;
shrink)
  cp "$EXCLUDE" "$EXCLUDE.before-gpu" 2>/dev/null || : > "$EXCLUDE.before-gpu"
  printf '%s\n' '/*' '!/src/' '!/scripts/' '!/pyproject.toml' '/src/blurvid/weights/' >> "$EXCLUDE"
  git read-tree --empty  # (the staged changes go too: restore brings back HEAD's index)
  git add src scripts pyproject.toml
  kib=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -ck | tail -1 | cut -f1)
  extra=$(du -sk shared-copy 2>/dev/null | awk '{s += $1} END {print s + 0}')
  echo "gpu_carry: the tree ${kib} KiB + carry ${extra} KiB = $(( (kib + extra) / 1024 )) MiB (limit 64)"
  echo "gpu_carry: run 'scripts/gpu_carry.sh restore' after the call, before any commit"
  ;;
restore)
  git reset -q
  if [ -f "$EXCLUDE.before-gpu" ]; then mv "$EXCLUDE.before-gpu" "$EXCLUDE"; fi
  git status --short | head -20
  ;;
*)
  echo "usage: scripts/gpu_carry.sh prepare [DATA_ROOT] [EXPORT] | shrink | restore" >&2
  exit 2
  ;;
esac
