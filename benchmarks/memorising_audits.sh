#!/usr/bin/env bash
# forgetting_quality (the NeurIPS 2023 challenge score) of the best random-deletion methods and of
# finetune on the memorising benchmark (Fashion-MNIST 10k, recipe memorise), random 10%, seed 0:
# one `unlearnkit audit` per method, banks of N golden, N unlearned and N LiRA models.
#
#   bash benchmarks/memorising_audits.sh [N] [DEVICE] [OUT]       # defaults: 8 cpu memorising-audits
#
# The banks are cached in $UNLEARNKIT_HOME and shared by every method. On this 2-core machine one
# bank of 8 golden models costs about 20 minutes of CPU; the numbers in docs/results/random-deletion.md
# were computed on a GPU (DEVICE=cuda, Fashion-MNIST files in --data-dir), where the whole script
# took 285 s at N = 8 and 340 s at N = 16. Set DATA_DIR when the Debian package is not installed.
set -u
N=${1:-8}
DEVICE=${2:-cpu}
OUT=${3:-memorising-audits}
mkdir -p "$OUT"
DATA=()
if [ -n "${DATA_DIR:-}" ]; then DATA=(--data-dir "$DATA_DIR"); fi
COMMON=(--dataset fashion-mnist --model cnn "${DATA[@]}" --data-option train_subset=10000 --recipe memorise
        --forget random:0.1 --seed 0 --device "$DEVICE" --n-models "$N" --quiet --json)
run() {  # output name, then the audit's method arguments
  local name=$1; shift
  echo "== $name"
  unlearnkit audit "${COMMON[@]}" "$@" --out "$OUT/$name" > "$OUT/$name.json"
}
run finetune --method finetune
run restart_ft --method restart_ft
run restart_ft_cal --method restart_ft --calibrate heldout
run heldout_match --method heldout_match
run heldout_match_cal --method heldout_match --calibrate heldout
run l1_sparse --method l1_sparse
run amnesiac --method amnesiac
run neggrad_plus_cal --method neggrad_plus --calibrate heldout
run eu_k --method eu_k
