#!/usr/bin/env bash
# Reproduce the release-v0.1 tables of docs/evaluation.md and docs/model-card.md: the identity
# and oracle-static references and the three stages B, BG, BGH on the fixed validation set,
# best order (protocol "paper") and given order (protocol "strict"). Writes the JSON files to
# docs/results/ and prints the Markdown tables. About 5 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-training/release-v0.1}  # the committed B / BG / BGH model folders
MODELS=(--model "B=$RUN/base/model" --model "BG=$RUN/gram/model" --model "BGH=$RUN/hepta/model"
  --model "default (fp16, bundled)=default")
mkdir -p docs/results
for protocol in paper strict center; do
  blurvid eval --data val:../shared/data "${MODELS[@]}" --protocol "$protocol" -q \
    --json "docs/results/release-v0.1-$protocol.json"
done
for subset in synthetic real; do
  blurvid eval --data val:../shared/data "${MODELS[@]}" --subset "$subset" -q --no-epe \
    --json "docs/results/release-v0.1-paper-$subset.json"
done
python scripts/release_tables.py docs/results
