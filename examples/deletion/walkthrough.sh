#!/usr/bin/env bash
# The walk-through of docs/deletion-requests.md, end to end: about a minute on 2 CPU cores.
#   bash examples/deletion/walkthrough.sh [WORKDIR]        (needs Fashion-MNIST: the Debian package
#                                                           dataset-fashion-mnist, see the README)
set -euo pipefail
WORK=${1:-deletion-walkthrough}
HERE=$(cd "$(dirname "$0")" && pwd)
UNLEARNKIT=${UNLEARNKIT:-unlearnkit}
python "$HERE/prepare.py" "$WORK"
cd "$WORK"
MODEL=(--arch my_model.py:build --weights model.safetensors)
DATA=(--data data.npz --data-option scale=255)

# Request 1, 150 scattered records: first a dry run with the recommended method, then retraining.
$UNLEARNKIT forget "${MODEL[@]}" "${DATA[@]}" --request request-1.txt --ledger ledger --dry-run --out request-1-try --quiet
$UNLEARNKIT forget "${MODEL[@]}" "${DATA[@]}" --request request-1.txt --ledger ledger --out request-1 --quiet \
    --method retrain recipe=csv epochs=30
# Request 2, every record of class Bag; the model comes from the ledger now.
$UNLEARNKIT forget "${DATA[@]}" --request request-2.txt --ledger ledger --out request-2 --quiet
# Request 3, 100 scattered records, two of them deleted by request 1; with a golden model for comparison.
$UNLEARNKIT forget "${DATA[@]}" --request request-3.txt --ledger ledger --out request-3 --quiet \
    --retrain --recipe csv --set epochs=30
$UNLEARNKIT ledger show ledger
$UNLEARNKIT ledger verify ledger --model request-3/model.safetensors
