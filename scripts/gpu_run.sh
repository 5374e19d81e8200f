#!/usr/bin/env bash
# Issue 8's GPU run, one phase per device call (docs/GPU_RUN.md). GPU time is scarce and failed
# tries count against it, so the same script, with the same phases, is rehearsed on the CPU first:
#
#   scripts/gpu_run.sh prepare ../shared/data        # here: fp16 backbone, fp32 word embeddings, gzipped data
#   scripts/rehearse_gpu_run.sh ../shared/data       # here: every phase below on 50 rows a task
#
# Issue 23's wave (the multitask-cls fix and the trials, 14 processes; minibert/wave.py) is
# `start-wave` in place of `start`; every other phase is the same.
#
# On the device: `start` (returns at once; training runs on under setsid), `wait SECONDS` (exit 3:
# still training), `finish` (tables, ensemble, README table, evaluation, submission files, one
# archive in 15 MB parts), `fetch N` (parts 4N-3..4N into $OUT: at most 8 files and 64 MB come back
# from a call). Everything is written under $GPU_RUN_STATE, outside the repository's copy (which
# each call refreshes from this machine's tree); it outlives a call while the machine is held.
# Back here: `scripts/gpu_run.sh unpack FOLDER...` puts checkpoints and tables in place.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${GPU_RUN_STATE:-/tmp/gpu-run}
DATA=$STATE/data
RUNS=$STATE/runs
CKPT=$STATE/checkpoints
TABLES=$STATE/tables
README=$STATE/README.md
JOBS=${GPU_RUN_JOBS:-9}
SEEDS=${GPU_RUN_SEEDS:-3}
# The best variant's learning rate halved and doubled, run beside its seed replicates.
LR_TRIES=${GPU_RUN_LR_TRIES:-0.5,2}
# Training's share of the 15 device minutes (docs/GPU_RUN.md): runs stop before an epoch that
# would end after it, keeping their best epoch; seed replicates start only if they fit.
MINUTES=${GPU_RUN_MINUTES:-10}
STORAGE=${GPU_RUN_STORAGE:-int8-delta}
DATA_GZ=${GPU_RUN_DATA_GZ:-.device/data}
EXTRA=${GPU_RUN_EXTRA:-}
OUT=${OUT:-$STATE/out}
# The GPU machine's PyTorch is its `python3` (a plain `python` may be missing there).
PY=${GPU_RUN_PYTHON:-python3}
export MINIBERT_DATA=$DATA MINIBERT_RUNS=$RUNS MINIBERT_CACHE=$STATE/cache PYTHONUNBUFFERED=1
# Nine training processes share 16 cores: one thread each, or their CPU-side work thrashes.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ -f .device/backbone/minibert-backbone.json ]; then export MINIBERT_BACKBONE=$PWD/.device/backbone; fi

progress() {
    tail -n 4 "$RUNS/train.log" || true
    for log in "$RUNS"/*.log "$RUNS"/seeds/*.log "$RUNS"/wave/*.log; do
        [ -f "$log" ] && [ "$(basename "$log")" != train.log ] || continue
        echo "$(basename "$log" .log): $(grep -E '^  (epoch|stored)' "$log" | tail -n 1 | cut -c1-150)"
    done
    if [ -s "$RUNS/gpu-usage.csv" ]; then
        echo "GPU memory (MiB), most seen: $(tail -n +2 "$RUNS/gpu-usage.csv" | cut -d, -f2 | tr -dc '0-9\n' | sort -n | tail -n 1)"
    fi
}

unpack_data() {
    mkdir -p "$DATA" "$RUNS"
    for f in "$DATA_GZ"/*.csv.gz; do gunzip -c "$f" > "$DATA/$(basename "$f" .gz)"; done
}

# The shipped checkpoints and tables, the data and the GPU sampler, for `start` and `start-wave`.
begin() {
    if [ -f "$STATE/train.pid" ] && kill -0 "$(cat "$STATE/train.pid")" 2>/dev/null; then
        echo "already training (pid $(cat "$STATE/train.pid"))"; exit 0
    fi
    unpack_data
    # The shipped baselines and their tables join the new variants, so that tables, ensemble and
    # README cover every variant.
    rm -rf "$CKPT" "$TABLES" && cp -r checkpoints "$CKPT" && cp -r analysis/tables "$TABLES" && cp README.md "$README"
    date -u +%s > "$STATE/started"
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi > "$RUNS/gpu.txt" 2>&1 || true
        setsid nohup nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader -l 5 \
            > "$RUNS/gpu-usage.csv" 2>&1 < /dev/null &
    fi
}

case "${1:-}" in
prepare)
    shared=${2:-../shared/data}
    "$PY" -m minibert backbone .device/backbone
    "$PY" -m minibert backbone .device/words32 --word-embeddings-only
    mkdir -p .device/data
    for f in "$shared"/*.csv; do gzip -9c "$f" > ".device/data/$(basename "$f").gz"; done
    du -sh .device .device/*
    ;;
start)
    begin
    # shellcheck disable=SC2086  # EXTRA holds several flags
    setsid nohup "$PY" -m minibert train --all --jobs "$JOBS" --seeds "$SEEDS" --lr-tries "$LR_TRIES" --storage "$STORAGE" \
        --max-minutes "$MINUTES" --skip frozen-cls,frozen-mean --checkpoints "$CKPT" $EXTRA > "$RUNS/train.log" 2>&1 < /dev/null &
    echo $! > "$STATE/train.pid"
    echo "training started (pid $!), log $RUNS/train.log"
    ;;
start-wave)
    # Issue 23: 14 processes at once (the fix and 6 trials, 2 seeds each) within WAVE_MINUTES; the
    # fix's first seed replaces $CKPT/multitask-cls, the trials train under $RUNS/wave (their
    # weights stay behind, their configs and runs/wave/summary.txt come back).
    begin
    # shellcheck disable=SC2086  # EXTRA holds several flags
    setsid nohup "$PY" -m minibert.wave --jobs "${GPU_RUN_WAVE_JOBS:-14}" --max-minutes "${GPU_RUN_WAVE_MINUTES:-8.5}" \
        --checkpoints "$CKPT" --out "$RUNS/wave" --storage "$STORAGE" $EXTRA > "$RUNS/train.log" 2>&1 < /dev/null &
    echo $! > "$STATE/train.pid"
    echo "wave started (pid $!), log $RUNS/train.log"
    ;;
wait)
    deadline=$((SECONDS + ${2:-540}))
    while kill -0 "$(cat "$STATE/train.pid")" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then progress; echo "still training"; exit 3; fi
        sleep 5
    done
    progress
    echo "training ended $(( $(date -u +%s) - $(cat "$STATE/started") )) s after start"
    failed=$( (grep -o 'failed: .*' "$RUNS/train.log" || true) | tail -n 1 | cut -c9-)
    case "$failed" in
    none) ;;
    "") echo "train --all ended without its summary line: see $RUNS/train.log"; exit 1 ;;
    *)  # Reruns of the best variant (seeds, learning rates; killed to save time, say) do not touch
        # what ships; any other failure does.
        if echo "$failed" | tr ',' '\n' | grep -vq '^ *seeds/'; then echo "failed: $failed"; exit 1; fi
        echo "reruns of the best variant failed or were stopped ($failed): what they did not finish is not recorded" ;;
    esac
    ;;
finish)
    # Tables from what ships: a fine-tuned checkpoint shares only the word embeddings with the
    # backbone, and the fp16 copy rounds them; the exact ones (.device/words32, 47 MB, carried
    # by a call of their own) go back in, so that tables and evaluation see the shipped model.
    [ -f .device/words32/word_embeddings.safetensors ] || { echo "carry .device/words32 in this call" >&2; exit 2; }
    "$PY" -m minibert backbone "$STATE/backbone-exact" --source .device/backbone --dtype fp32 \
        --word-embeddings .device/words32/word_embeddings.safetensors
    export MINIBERT_BACKBONE=$STATE/backbone-exact
    # Tables from the stored checkpoints (fp32 inference), then the ensemble chosen on dev from them.
    "$PY" -m analysis build --checkpoints "$CKPT" --tables "$TABLES" --no-progress
    # `--write` also chooses members on one half of dev and scores them on the other (issue 23): its
    # output is the honest ensemble's record, so it is kept rather than recomputed.
    "$PY" -m analysis ensemble --write --checkpoints "$CKPT" --tables "$TABLES" > "$RUNS/ensemble-halves.txt" 2>&1 \
        || echo "ensemble members left as they were: see runs/ensemble-halves.txt"
    "$PY" -m analysis build --checkpoints "$CKPT" --tables "$TABLES" --no-progress
    "$PY" -m analysis report --tables "$TABLES" --readme "$README"
    # What ships (stored weights, exact word embeddings: the tables) against the training-time
    # weights (fp16-copy word embeddings) of each variant: issue 8's 0.002 bar, end to end.
    "$PY" - "$CKPT" "$TABLES/summary.json" <<'PY' | tee "$RUNS/shipped-vs-trained.txt"
import json, sys
from pathlib import Path
summary = json.load(open(sys.argv[2]))["variants"]
for folder in sorted(Path(sys.argv[1]).iterdir()):
    trained = json.load(open(folder / "config.json")).get("metrics", {}).get("dev_at_training")
    if not trained or folder.name not in summary:
        continue
    s = summary[folder.name]
    shipped = {"sst_acc": s["tasks"]["sst"]["accuracy"], "quora_acc": s["tasks"]["quora"]["accuracy"],
               "sts_pearson": s["tasks"]["sts"]["pearson"], "overall": s["overall"]}
    moved = {k: shipped[k] - trained[k] for k in shipped}
    worst = max(abs(v) for v in moved.values())
    print(f"{folder.name:15} " + " ".join(f"{k} {v:+.4f}" for k, v in moved.items())
          + ("  OVER 0.002" if worst > 0.002 else ""))
PY
    # Frozen-encoder variants (and an ensemble holding one) run their whole encoder here, whose
    # weights are the fp16 copy's: their rows differ from the tables (built on the CPU, what ships).
    { echo "frozen-encoder rows use the fp16 encoder of $MINIBERT_BACKBONE; the tables hold what ships"
      "$PY" -m minibert evaluate --checkpoints "$CKPT"; } | tee "$RUNS/evaluate.txt"
    best=$("$PY" -c "import json,sys; v=json.load(open(sys.argv[1]))['variants']; print(max(v, key=lambda n: v[n].get('overall') or 0))" "$TABLES/summary.json")
    "$PY" -m minibert predict --variant "$best" --checkpoints "$CKPT" --out "$STATE/predictions"
    echo "$best" > "$STATE/predictions/VARIANT"
    progress > "$RUNS/progress.txt"
    mkdir -p "$STATE/pack"
    rm -f "$STATE"/pack/*
    rm -f "$STATE/result.tar.gz"
    # The reruns' weights (seeds, learning rates) stay behind: only their metrics (in the configs) matter.
    tar -czf "$STATE/result.tar.gz" --exclude='runs/seeds/*.safetensors' --exclude='runs/wave/*.safetensors' -C "$STATE" \
        checkpoints tables README.md runs predictions
    split -b 15M -d -a 2 "$STATE/result.tar.gz" "$STATE/pack/result.tgz.part"
    (cd "$STATE" && sha256sum result.tar.gz > pack/result.sha256)
    ls -l "$STATE/pack"
    echo "fetch calls needed: $(( ($(find "$STATE/pack" -name 'result.tgz.part*' | wc -l) + 3) / 4 ))"
    ;;
fetch)
    n=${2:-1}
    mkdir -p "$OUT"
    cp "$STATE/pack/result.sha256" "$OUT/"
    find "$STATE/pack" -name 'result.tgz.part*' | sort | sed -n "$((4 * n - 3)),$((4 * n))p" | xargs -r cp -t "$OUT"
    ls -l "$OUT"
    ;;
unpack)
    # Here, with the fetched parts in FOLDER... (one folder per fetch call; they are read-only):
    # check the archive, replace checkpoints/ and analysis/tables/ with what the GPU run wrote and
    # regenerate the README's table from them; runs/ and predictions/ (logs and submission files,
    # never committed) stay in the printed work folder.
    shift
    [ $# -gt 0 ] || { echo "usage: scripts/gpu_run.sh unpack FOLDER [FOLDER...]" >&2; exit 2; }
    work=$(mktemp -d /tmp/gpu-result-XXXX)
    find "$@" -name 'result.tgz.part*' -printf '%f %p\n' | sort | cut -d' ' -f2- | xargs cat > "$work/result.tar.gz"
    cp "$(find "$@" -name result.sha256 | head -n 1)" "$work/"
    (cd "$work" && sha256sum -c result.sha256)
    mkdir -p "$work/result" && tar -xzf "$work/result.tar.gz" -C "$work/result"
    rm -rf checkpoints analysis/tables
    cp -r "$work/result/checkpoints" checkpoints && cp -r "$work/result/tables" analysis/tables
    "$PY" -m analysis report
    du -sh checkpoints
    echo "logs and submission files: $work/result/runs, $work/result/predictions"
    ;;
prepare-reruns)
    # Here, when the run's time ran out before the best variant's reruns (seeds, learning rates):
    # the shipped configs alone (a few KB; `train --all --reruns-only` picks the best from them
    # and writes its records into them), so that a later call can run just the reruns.
    rm -rf .device/reruns && mkdir -p .device/reruns
    for c in checkpoints/*/config.json; do
        name=$(basename "$(dirname "$c")") && mkdir -p ".device/reruns/$name" && cp "$c" ".device/reruns/$name/"
    done
    ls .device/reruns
    ;;
reruns)
    # On the device, one call (carry .device/backbone, .device/data, .device/reruns): the reruns
    # of the best stored variant within RERUN_MINUTES; the configs that record them come back in $OUT.
    unpack_data
    rm -rf "$STATE/reruns" && cp -r .device/reruns "$STATE/reruns" && mkdir -p "$OUT"
    # shellcheck disable=SC2086  # EXTRA holds several flags
    rc=0
    "$PY" -m minibert train --all --reruns-only --jobs 4 --seeds "$SEEDS" --lr-tries "$LR_TRIES" --storage "$STORAGE" \
        --max-minutes "${GPU_RUN_RERUN_MINUTES:-4.5}" --checkpoints "$STATE/reruns" $EXTRA 2>&1 | tee "$RUNS/reruns.log" || rc=$?
    # What finished is recorded even when a rerun failed: pack it either way, then say how it went.
    tar -czf "$OUT/reruns.tar.gz" -C "$STATE" reruns runs/reruns.log $(cd "$STATE" && ls runs/seeds/*.log 2>/dev/null)
    ls -l "$OUT"
    exit $rc
    ;;
unpack-reruns)
    # Here: the configs that `reruns` brought back replace the shipped ones only where the weights
    # and recipe are the same (same checkpoint hash), so only their records change.
    [ $# -ge 2 ] || { echo "usage: scripts/gpu_run.sh unpack-reruns FOLDER [SHARED_DATA]" >&2; exit 2; }
    work=$(mktemp -d /tmp/gpu-reruns-XXXX) && tar -xzf "$2/reruns.tar.gz" -C "$work"
    "$PY" - "$work/reruns" checkpoints <<'PY'
import sys
from minibert.reruns import adopt_records
try:
    names = adopt_records(*sys.argv[1:])
except ValueError as error:
    sys.exit(str(error))
print("\n".join(f"recorded the reruns in {sys.argv[2]}/{n}/config.json" for n in names) or "nothing to record")
PY
    # The summary carries each variant's training record into the README table: refresh it (the
    # tables themselves stay, as the checkpoint hashes did not change).
    MINIBERT_DATA=${3:-../shared/data} "$PY" -m analysis build --no-progress
    "$PY" -m analysis report
    echo "logs: $work/runs"
    ;;
*)
    echo "usage: scripts/gpu_run.sh prepare [SHARED_DATA] | start | start-wave | wait [SECONDS] | finish | fetch N | unpack FOLDER..." >&2
    echo "       scripts/gpu_run.sh prepare-reruns | reruns | unpack-reruns FOLDER [SHARED_DATA]" >&2
    exit 2
    ;;
esac
