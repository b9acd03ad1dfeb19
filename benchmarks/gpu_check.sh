#!/usr/bin/env bash
# The GPU check of docs/model.md (issue 19) and of the loader (issue 21), one script of at most ~8 minutes on a
# CUDA machine with PyTorch: generate a smaller-than-real WiFo corpus there (Sionna on the GPU), curate, build
# the reference mixture, then benchmarks/gpu_model.py: loader samples/s with 0 and 16 workers, a larger model
# (base) trained in bf16, and the zero-shot table on D17-D19 every minute.
#
#   bash benchmarks/gpu_check.sh REPORT [SAMPLES=600] [MODEL=base] [MINUTES=3.5]
#
# Packages the machine lacks travel as wheels in .whl/ (docs/model.md says which); they are installed to
# /tmp/site when the folder is there.
set -uo pipefail
REPORT=${1:?report directory}
SAMPLES=${2:-600}
MODEL=${3:-base}
MINUTES=${4:-3.5}
WHEELS=${WHEELS:-.whl}
mkdir -p "$REPORT"
if [ -d "$WHEELS" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
W="python3 -m wirelessdata.cli"
WORK=${WORK:-/tmp/gpucheck}
rm -rf "$WORK"
nvidia-smi -L 2>&1 | tee "$REPORT/log.txt"
step() {  # name, timeout, command...
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >>"$REPORT/log.txt" 2>&1
    local rc=$?
    echo "$name: rc $rc, $((SECONDS - t0)) s" | tee -a "$REPORT/log.txt"
    return $rc
}
step generate 240 $W generate --recipe generators/wifo.toml --samples "$SAMPLES" --out "$WORK/corpus" || exit 1
step curate 120 $W curate "$WORK/corpus" || exit 1
step mix 60 $W mix build catalog/wifo-reference.toml --root "$WORK/corpus" --out "$WORK/manifest.json" || exit 1
step model 420 python3 benchmarks/gpu_model.py "$WORK/manifest.json" "$WORK/run" "$REPORT" --model "$MODEL" \
    --minutes "$MINUTES"
tail -5 "$REPORT/log.txt"
