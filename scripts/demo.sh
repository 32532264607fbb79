#!/usr/bin/env bash
# The main job, from a fresh clone: set up .venv, then prepare data, train and evaluate both models, compare them.
# No argument: the embedded synthetic data set (offline). Or a raw folder / Hub data set id:
#   bash scripts/demo.sh /path/to/asl_alphabet_train        bash scripts/demo.sh --dataset_name user/asl-alphabet
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_env.sh
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
  set -- --train_dir "$@"
fi
# Re-running replaces the previous results in outputs/pipeline (or the --output_dir you pass).
exec .venv/bin/python scripts/run_pipeline.py --overwrite_output_dir "$@"
