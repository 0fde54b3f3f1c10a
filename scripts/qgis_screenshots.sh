#!/usr/bin/env bash
# Screenshots of the QGIS plugin from Debian's real QGIS under Xvfb, for the README:
#   docs/qgis-dialog.png (the "Detect data centers" dialog) and docs/qgis-result.png (the
#   styled result layer over the scene).
# Usage: scripts/qgis_screenshots.sh SCENE.tif MODEL.ckpt [OUT_DIR (default docs)]
#            [THRESHOLD (default: the model's)] [MIN_AREA_M2 (default: tgdc's)]
# Needs qgis, python3-qgis, xvfb (Debian). QGIS runs with a throw-away home and profile.
set -euo pipefail
cd "$(dirname "$0")/.."
scene=$(realpath "$1")
model=$(realpath "$2")
out=$(realpath "${3:-docs}")
options=""
[ -n "${4:-}" ] && options="$options, \"THRESHOLD\": $4"
[ -n "${5:-}" ] && options="$options, \"MIN_AREA\": $5"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_CONFIG_HOME="$home/.config"
export XDG_RUNTIME_DIR="$home/runtime"
mkdir -m 700 "$XDG_RUNTIME_DIR"
work="$home/work"
mkdir "$work"
uv run tgdc qgis install
# QGIS's embedded Python must not see the project's environment first on PATH.
PATH=$(echo "$PATH" | tr ':' '\n' | grep -v "/.venv/bin$" | paste -sd:)
unset VIRTUAL_ENV
qgis_process=$(command -v qgis_process.bin || command -v qgis_process)
QT_QPA_PLATFORM=offscreen "$qgis_process" plugins enable tgdc_processing >/dev/null
TGDC_SHOT_DIR="$out" TGDC_SHOT_PARAMETERS=$(printf \
    '{"INPUT": "%s", "MODEL": "%s", "DEVICE": 1, "OUTPUT": "%s", "MASK": "%s"%s}' \
    "$scene" "$model" "$work/detections.gpkg" "$work/mask.tif" "$options") \
    xvfb-run -a -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck \
    --code scripts/qgis_screenshots.py
echo "screenshots: $out/qgis-dialog.png $out/qgis-result.png"
