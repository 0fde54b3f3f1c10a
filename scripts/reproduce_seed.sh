#!/usr/bin/env bash
# Reproduce the seed project's experiment with this package, end to end:
#   1. sites: the seed label file plus IM3 data-center footprints (scripts/seed_sites.py);
#   2. NAIP chips around every site from a STAC API (tgdc download --sites);
#   3. masks on the chips' grids (tgdc chips, the seed's 7.5 m buffer, label field);
#   4. training and testing through configs/datacenters.yaml (torchgeo fit, torchgeo test);
#   5. report.md: the test metrics beside the seed project's table (scripts/seed_report.py).
#
# Usage: scripts/reproduce_seed.sh SEED_LABELS IM3_FOOTPRINTS WORK_DIR [LightningCLI args...]
# WORK_DIR holds data/chips, data/masks and output/datacenters, the relative paths of
# configs/datacenters.yaml, so the config is used as it is; arguments after WORK_DIR go to
# both torchgeo fit and torchgeo test (e.g. --trainer.max_epochs 1).
# Environment: STAC_URL (default: Planetary Computer), CHIP_SIZE (256), PER_SITE (1),
# TGDC and TORCHGEO (the commands to run; default: `uv run tgdc`, `uv run torchgeo`).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 SEED_LABELS IM3_FOOTPRINTS WORK_DIR [LightningCLI args...]" >&2
    exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seed_labels="$(realpath "$1")"
im3_labels="$(realpath "$2")"
work="$3"
shift 3
for file in "$seed_labels" "$im3_labels"; do
    if [[ ! -f "$file" ]]; then
        echo "$0: error: $file: label file does not exist" >&2
        exit 2
    fi
done
read -r -a tgdc <<< "${TGDC:-uv run --project $repo tgdc}"
read -r -a torchgeo <<< "${TORCHGEO:-uv run --project $repo torchgeo}"
read -r -a python <<< "${PYTHON:-uv run --project $repo python}"
stac=()
if [[ -n "${STAC_URL:-}" ]]; then
    stac=(--stac-url "$STAC_URL")
fi
config="$repo/configs/datacenters.yaml"

mkdir -p "$work"
cd "$work"
"${python[@]}" "$repo/scripts/seed_sites.py" "$seed_labels" "$im3_labels" sites.geojson
"${tgdc[@]}" download --sites sites.geojson --output-dir data/chips \
    --chip-size "${CHIP_SIZE:-256}" --per-site "${PER_SITE:-1}" "${stac[@]}"
"${tgdc[@]}" chips --chips-dir data/chips --labels sites.geojson --output-dir data/masks \
    --buffer 7.5 --use-label-field
"${torchgeo[@]}" fit --config "$config" "$@"
checkpoint="$(find output/datacenters -name last.ckpt -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)"
if [[ -z "$checkpoint" ]]; then
    echo "$0: error: output/datacenters: training wrote no last.ckpt" >&2
    exit 1
fi
"${torchgeo[@]}" test --config "$config" --ckpt_path "$checkpoint" "$@"
"${python[@]}" "$repo/scripts/seed_report.py" output/datacenters sites.geojson data/chips report.md
