#!/usr/bin/env bash
# Every variant x SEEDS seeds on a SLURM cluster: one job-array task per (variant, seed), each on
# one GPU; then one job, started only when every task succeeded (afterok), that records each
# variant's seed spread, composes the ensemble, builds the analysis tables, chooses the ensemble's
# members on dev and writes the README's results table (docs/SCALING.md).
#
#   scripts/slurm_train.sh submit     # on the login node, from the repository: submit both jobs
#   scripts/slurm_train.sh task       # what each array task runs (SLURM_ARRAY_TASK_ID picks its run)
#   scripts/slurm_train.sh finish     # what the dependent job runs
#
# Settings, from the environment: SEEDS (3), SKIP (comma-separated variants to leave out),
# CKPT (checkpoints), TABLES (analysis/tables), README (README.md), MINIBERT_RUNS (runs: logs,
# replicates), MINIBERT_DATA (the data folder), TRAIN_ARGS (further `train` flags, e.g. --epochs 4),
# SBATCH_ARGS (site-specific: --partition, --account, --time), PY (python3).
set -euo pipefail
# Under SLURM the script runs from a spool copy, in the folder `submit` gave with --chdir.
[ -n "${SLURM_JOB_ID:-}" ] || cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-3}
SKIP=${SKIP:-}
CKPT=${CKPT:-checkpoints}
TABLES=${TABLES:-analysis/tables}
README=${README:-README.md}
TRAIN_ARGS=${TRAIN_ARGS:-}
SBATCH_ARGS=${SBATCH_ARGS:-}
PY=${PY:-python3}
export MINIBERT_RUNS=${MINIBERT_RUNS:-runs} PYTHONUNBUFFERED=1

array() { "$PY" -m minibert array --seeds "$SEEDS" --skip "$SKIP" --checkpoints "$CKPT" "$@"; }

case "${1:-}" in
submit)
    n=$(array --count)
    mkdir -p "$MINIBERT_RUNS/slurm"
    # The settings above travel with the jobs (sbatch exports the environment by default).
    export SEEDS SKIP CKPT TABLES README TRAIN_ARGS PY
    # shellcheck disable=SC2086  # SBATCH_ARGS holds several flags
    train=$(sbatch --parsable --chdir "$PWD" --job-name minibert-train --array "0-$((n - 1))" --gres gpu:1 \
        --cpus-per-task 4 --output "$MINIBERT_RUNS/slurm/train-%A_%a.out" $SBATCH_ARGS "$0" task)
    # shellcheck disable=SC2086
    finish=$(sbatch --parsable --chdir "$PWD" --job-name minibert-finish --dependency "afterok:${train%%;*}" \
        --gres gpu:1 --cpus-per-task 8 --output "$MINIBERT_RUNS/slurm/finish-%j.out" $SBATCH_ARGS "$0" finish)
    echo "array job ${train%%;*}: $n training tasks; then job ${finish%%;*}: records, ensemble, tables"
    ;;
task)
    : "${SLURM_ARRAY_TASK_ID:?set by SLURM in an array task (or by hand, to rehearse one)}"
    # shellcheck disable=SC2086  # TRAIN_ARGS holds several flags
    array --task "$SLURM_ARRAY_TASK_ID" -- $TRAIN_ARGS
    ;;
finish)
    array --finish
    "$PY" -m analysis build --checkpoints "$CKPT" --tables "$TABLES" --no-progress
    "$PY" -m analysis ensemble --write --checkpoints "$CKPT" --tables "$TABLES" || echo "ensemble members left as they were"
    "$PY" -m analysis build --checkpoints "$CKPT" --tables "$TABLES" --no-progress
    "$PY" -m analysis report --tables "$TABLES" --readme "$README"
    ;;
*)
    echo "usage: scripts/slurm_train.sh submit | task | finish (settings from the environment: see the script's head)" >&2
    exit 2
    ;;
esac
