#!/usr/bin/env bash
# Reproduce the release-v0.2 tables of docs/model-card.md: the identity and oracle-static
# references, v0.1 (BGH), v0.2 attempt 1 (paper init, a linear G), v0.2 B at step 9 000 and
# the BGH fine-tuned from it (training/release-v0.2-hepta-prediction/hepta: HeptaGAN on B's own
# frames), v0.2 B at step 57 000 and its BGH (preview 7,
# training/release-v0.2-stages-b57000/hepta), v0.2 B at step 76 000 and its BGH (preview 8,
# training/release-v0.2-stages-b76000/hepta), v0.2 B at step 87 000 (the base run's best
# centre-frame validation when its stopping rule fired), its BG and BGH (stage-2 and stage-3
# fine-tunes, training/release-v0.2/{gram,hepta}, when trained) and the bundled default, on
# the fixed validation set, best order (protocol "paper"), given order ("strict") and the
# centre frame ("center"), plus the synthetic and real halves. Writes
# docs/results/release-v0.2-*.json and prints the Markdown tables. A few minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=(--model "v0.1 BGH=training/release-v0.1/hepta/model"
  --model "v0.2 attempt 1 B (paper init)=training/release-v0.2-attempt1/base/best"
  --model "v0.2 B (step 9 000, fp16)=training/release-v0.2/b-step9000"
  --model "v0.2 BGH from step 9 000=training/release-v0.2-hepta-prediction/hepta/model"
  --model "v0.2 B (step 57 000, fp16)=training/release-v0.2/b-step57000"
  --model "v0.2 BGH from step 57 000 (preview 7)=training/release-v0.2-stages-b57000/hepta/model"
  --model "v0.2 B (step 76 000, fp16)=training/release-v0.2/b-step76000"
  --model "v0.2 BGH from step 76 000 (preview 8)=training/release-v0.2-stages-b76000/hepta/model"
  --model "v0.2 B (step 87 000, fp16)=training/release-v0.2/b-step87000")
# stages 2 and 3 of step 87 000 (scripts/train_release_v0.2_stages.sh), once trained
for stage in gram hepta; do
  label=$([ "$stage" = gram ] && echo "v0.2 BG" || echo "v0.2 BGH")
  if [ -f "training/release-v0.2/$stage/model/config.json" ]; then
    MODELS+=(--model "$label=training/release-v0.2/$stage/model")
  fi
done
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
