#!/usr/bin/env bash
# Reproduce the release-v0.2 tables of docs/model-card.md: the identity and oracle-static
# references, v0.1 (BGH), v0.2 attempt 1 (paper init, a linear G), v0.2 B (the restarted run's
# best validation), BG and BGH (its stage-2 and stage-3 fine-tunes, when trained) and the
# bundled default, on the fixed validation set, best order (protocol
# "paper"), given order ("strict") and the centre frame ("center"), plus the synthetic and real
# halves. Writes docs/results/release-v0.2-*.json and prints the Markdown tables. A few minutes
# on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=(--model "v0.1 BGH=training/release-v0.1/hepta/model"
  --model "v0.2 attempt 1 B (paper init)=training/release-v0.2-attempt1/base/best"
  --model "v0.2 B (step 9 000, fp16)=training/release-v0.2/b-step9000"
  --model "v0.2 B + stills=${V02:-training/release-v0.2/base/best}")
# stages 2 and 3 (scripts/train_release_v0.2_stages.sh), once trained
for stage in gram hepta; do
  label=$([ "$stage" = gram ] && echo "v0.2 BG" || echo "v0.2 BGH")
  if [ -f "training/release-v0.2/$stage/model/config.json" ]; then
    MODELS+=(--model "$label=training/release-v0.2/$stage/model")
  fi
done
# stage 3 with hepta_source=prediction (B's frames re-blurred as its input), from BG
if [ -f training/release-v0.2-hepta-prediction/hepta/model/config.json ]; then
  MODELS+=(--model "v0.2 BGH (hepta from prediction)=training/release-v0.2-hepta-prediction/hepta/model")
fi
MODELS+=(--model "default (fp16, bundled)=default")
SPLIT=(--split "${SPLIT:-scripts/data_split.json}")
mkdir -p docs/results
for protocol in paper strict center; do
  blurvid eval --data val:../shared/data "${SPLIT[@]}" "${MODELS[@]}" --protocol "$protocol" -q \
    --json "docs/results/release-v0.2-$protocol.json"
done
for subset in synthetic real; do
  blurvid eval --data val:../shared/data "${SPLIT[@]}" "${MODELS[@]}" --subset "$subset" -q --no-epe \
    --json "docs/results/release-v0.2-paper-$subset.json"
done
python scripts/release_tables.py docs/results v0.2
