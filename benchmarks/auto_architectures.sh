#!/usr/bin/env bash
# Issue 21: `unlearnkit unlearn --method auto` (default budget, 0.1 of an estimated retrain's CPU) on the
# memorising benchmark of every architecture, seeds 0-2, into the home of that architecture's grid
# (benchmarks/grids/memorising_<arch>.toml), so that it reuses the grid's original and golden models and
# `method_table.py --with-auto` prints it beside the grid's methods. auto never sees the golden model;
# its rule was fixed on the cnn's development seeds 7-9 (docs/results/auto.md) and is not changed here.
#   bash benchmarks/auto_architectures.sh [mlp|cnn|resnet18|vit_tiny ...]     (default: mlp resnet18 vit_tiny)
#   python benchmarks/method_table.py benchmarks/grids/memorising_mlp.toml --home benchmarks/results/memorising-mlp --with-auto
set -uo pipefail
cd "$(dirname "$0")/.."
METRICS=ua,ra,ta,mia_efficacy,mia_member_recall,runtime_s,speedup,avg_gap,heldout_auc,heldout_acc_gap
for arch in "${@:-mlp resnet18 vit_tiny}"; do
  for a in $arch; do
    case $a in
      mlp)      model=(--model mlp) recipe=memorise home=benchmarks/results/memorising-mlp ;;
      cnn)      model=(--model cnn) recipe=memorise home=benchmarks/results/memorising ;;
      resnet18) model=(--model resnet18 --model-arg width=8) recipe=memorise home=benchmarks/results/memorising-resnet18 ;;
      vit_tiny) model=(--model vit_tiny --model-arg dim=64 --model-arg patch_size=7) recipe=memorise-adam
                home=benchmarks/results/memorising-vit_tiny ;;
      *) echo "unknown architecture '$a': choose from mlp, cnn, resnet18, vit_tiny" >&2; exit 2 ;;
    esac
    for seed in 0 1 2; do
      unlearnkit unlearn --home "$home" --quiet --dataset fashion-mnist "${model[@]}" --recipe "$recipe" \
        --data-option train_subset=10000 --data-option val_size=10000 --forget random:0.1 --seed "$seed" \
        --metrics "$METRICS" --method auto 2>&1 | grep -E "^ (golden|original|auto)|^auto|^error|budget"
    done
  done
done
