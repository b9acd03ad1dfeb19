#!/usr/bin/env bash
# The CPU reference run of docs/model.md: pretrain on WiFo D1-D16, evaluate zero-shot, few-shot (512 target
# samples) and full-shot on the held-out D17-D19, against zoh, AR, AR with the order chosen per sample and the
# Wiener predictor; then the frozen-encoder heads on the default corpus over 3 seeds.
#
# Run from the repository root: bash benchmarks/model_reference.sh [OUT=refrun] [SAMPLES=2000] [STEPS=2400]
# Timings on 2 CPU cores (docs/model.md): generation ~20 min, pretraining ~21 min, evaluation ~10 min (300-step
# target models), probes ~16 min; the second evaluate reuses the tuned models and only prints the tables.
set -euo pipefail
OUT=${1:-refrun}
SAMPLES=${2:-2000}
STEPS=${3:-2400}
W=.venv/bin/wirelessdata

$W generate --recipe generators/wifo.toml --samples "$SAMPLES" --out "$OUT/corpus"
$W curate "$OUT/corpus"   # flags the near-duplicate drops that mix build's leakage check would refuse
$W mix build catalog/wifo-reference.toml --root "$OUT/corpus" --out "$OUT/manifest.json"
$W train --manifest "$OUT/manifest.json" --out "$OUT/run" --steps "$STEPS" --eval-every 200 --keep-every 600 \
    --threads 2 --resume
$W evaluate "$OUT/run" --manifest "$OUT/manifest.json" --few-shot 512 --full-shot --tune-steps 300 --threads 2 \
    -o "$OUT/eval.png" --json > "$OUT/eval.json"
$W evaluate "$OUT/run" --manifest "$OUT/manifest.json" --few-shot 512 --full-shot --tune-steps 300 --threads 2
$W generate --bands sub6,28GHz --samples 1024 --out "$OUT/default"
$W probe "$OUT/run" "$OUT/default" --seeds 3 --threads 2
