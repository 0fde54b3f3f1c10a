"""Tests of ``tgdc detect`` and ``tgdc batch-detect``."""

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from support.data import write_raster
from support.inference import GSD, save_checkpoint, scene_array, utm_transform, write_scene

from torchgeo_datacenters.cli import build_parser, main
from torchgeo_datacenters.options import PredictorOptions

PIXEL_M2 = GSD * GSD
FAST = [
    *("--tile-size", "64", "--overlap", "16", "--min-area", "0"),
    *("--device", "cpu", "--num-workers", "0"),
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real checkpoint whose model predicts probability sigmoid(5) = 0.993 everywhere."""
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", logit=5.0)


def detect(checkpoint: Path, image: Path, out: Path, *extra: str) -> int:
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(image)]
    return main([*args, "--output-geojson", str(out / "d.geojson"), *FAST, *extra])


def test_detect_writes_every_output(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_scene(
        tmp_path / "scene.tif", 64, 150, nodata=0, nodata_region=(slice(None), slice(0, 30))
    )
    out = tmp_path / "out"
    out.mkdir()
    kinds = {"csv": "d.csv", "gpkg": "d.gpkg", "parquet": "d.parquet", "mask": "m.tif"}
    extra = [arg for kind, name in kinds.items() for arg in (f"--output-{kind}", str(out / name))]
    extra += ["--output-probabilities", str(out / "p.tif")]
    assert detect(checkpoint, image, out, *extra) == 0
    stdout = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        r"detect: 1 detection\(s\) in scene\.tif: 0\.003 km² scanned in [\d.]+ s"
        r" \([\d.]+ km²/s, (fp32|bf16)\)",
        stdout[-1],
    )
    assert f"mask: {out / 'm.tif'}" in stdout
    (feature,) = json.loads((out / "d.geojson").read_text())["features"]
    # Every valid pixel is a data center; the nodata columns are not.
    assert feature["properties"]["area_m2"] == pytest.approx(64 * 120 * PIXEL_M2)
    assert feature["properties"]["source"] == "scene.tif"
    assert (out / "d.csv").read_text().splitlines()[0] == (
        "id,centroid_lon,centroid_lat,area_m2,score,source,source_item,acquired"
    )
    assert len(gpd.read_file(out / "d.gpkg")) == len(gpd.read_parquet(out / "d.parquet")) == 1
    with rasterio.open(image) as src, rasterio.open(out / "m.tif") as mask:
        assert (mask.crs, mask.transform) == (src.crs, src.transform)
        assert (mask.read(1)[:, :30] == 255).all() and (mask.read(1)[:, 30:] == 1).all()
    with rasterio.open(out / "p.tif") as probabilities:
        assert probabilities.dtypes == ("float32",)


#: Runs ``tgdc`` with argv[1:] in a fresh interpreter; prints the modules it had imported
#: when its first tiles reached the model, and at its end.
FRESH_TGDC = textwrap.dedent(
    """
    import json, sys
    from torchgeo_datacenters.cli import main
    from torchgeo_datacenters.inference.predictor import Predictor

    first_tile = []
    forward = Predictor._forward

    def recording_forward(self, model, images):
        if not first_tile:
            first_tile.extend(sorted(sys.modules))
        return forward(self, model, images)

    Predictor._forward = recording_forward
    status = main(sys.argv[1:])
    print(json.dumps({"status": status, "first_tile": first_tile, "modules": sorted(sys.modules)}))
    """
)


@pytest.mark.parametrize("command", ["detect", "batch-detect"])
def test_detect_on_files_imports_only_what_the_first_tile_needs(
    command: str, checkpoint: Path, tmp_path: Path
) -> None:
    # TorchGeo's datasets bring in torchvision and torch._dynamo (about 2.5 s before the
    # first tile); a run on files needs none of them. The tables (pandas, geopandas and
    # the pyarrow pandas brings), vector files (pyogrio) and STAC (pystac) are needed only
    # once tiles are predicted, and are imported then.
    (tmp_path / "chips").mkdir()
    image = write_scene(tmp_path / "chips" / "scene.tif", 64, 96)
    out = tmp_path / "d.geojson"
    source = ["--image", str(image)] if command == "detect" else ["--chips-dir", str(image.parent)]
    args = [command, "--checkpoint", str(checkpoint), *source]
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH_TGDC, *args, "--output-geojson", str(out), *FAST],
        capture_output=True,
        text=True,
    )
    assert fresh.returncode == 0, fresh.stderr
    run = json.loads(fresh.stdout.splitlines()[-1])
    assert run["status"] == 0
    # The checkpoint's model finds a data center on every pixel: one, the whole scene.
    (feature,) = json.loads(out.read_text())["features"]
    assert feature["properties"]["area_m2"] == pytest.approx(64 * 96 * PIXEL_M2)
    assert feature["properties"]["source"] == "scene.tif"
    assert "torch" in run["first_tile"]
    heavy = {"torchgeo.datasets", "torchvision", "torch._dynamo"} & set(run["modules"])
    assert not heavy, sorted(heavy)
    tables = {"pandas", "geopandas", "pyogrio", "pyarrow", "pystac"}
    assert not tables & set(run["first_tile"]), sorted(tables & set(run["first_tile"]))
    assert {"pandas", "geopandas"} <= set(run["modules"])


def test_batch_detect_merges_neighbouring_chips(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    transform = utm_transform()
    for name, col in (("a", 0), ("b", 40), ("c", 5000)):
        write_scene(chips / f"{name}.tif", 50, 40, transform=transform @ Affine.translation(col, 0))
    out = tmp_path / "all.geojson"
    args = ["batch-detect", "--checkpoint", str(checkpoint), "--chips-dir", str(chips)]
    assert main([*args, "--output-geojson", str(out), *FAST]) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith("batch-detect: 2 detection(s) in 3 rasters:")
    )
    features = json.loads(out.read_text())["features"]
    areas = sorted(feature["properties"]["area_m2"] for feature in features)
    assert areas == pytest.approx([50 * 40 * PIXEL_M2, 50 * 80 * PIXEL_M2])
    assert [feature["id"] for feature in features] == [1, 2]


def test_user_errors_exit_2_in_one_line_and_write_nothing(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    rgb = write_scene(tmp_path / "rgb.tif", 40, 40, bands=3)
    not_ours = tmp_path / "weights.ckpt"
    not_ours.write_bytes(b"PK\x03\x04 not really")
    # Bytes that torch unpickles until an unknown operand: its message fills six lines.
    pickled = tmp_path / "pickled.ckpt"
    pickled.write_bytes(b"\x80\x02" + bytes(range(60, 160)))
    cases = [
        (checkpoint, tmp_path / "missing.tif", "missing.tif: image file does not exist"),
        (checkpoint, rgb, "rgb.tif: has 3 band(s) but the checkpoint expects 4"),
        (not_ours, rgb, "weights.ckpt: not a readable PyTorch checkpoint"),
        (pickled, rgb, "pickled.ckpt: not a readable PyTorch checkpoint"),
        (rgb, rgb, "rgb.tif: not a readable PyTorch checkpoint"),
    ]
    for model, image, message in cases:
        assert detect(model, image, out, "--output-mask", str(out / "m.tif")) == 2
        error = capsys.readouterr().err
        assert error.startswith("tgdc detect: error: ") and message in error
        assert len(error.strip().splitlines()) == 1
        assert list(out.iterdir()) == []
    missing = tmp_path / "missing.screen.ckpt"
    scene = write_scene(tmp_path / "scene.tif", 40, 40)
    assert detect(checkpoint, scene, out, "--screen", str(missing)) == 2
    assert capsys.readouterr().err == (
        f"tgdc detect: error: {missing}: screen checkpoint does not exist; give one (trained"
        " with --data.init_args.gsd 2.4), or --screen auto or off\n"
    )
    assert list(out.iterdir()) == []
    assert detect(checkpoint, scene, out, "--screen", "off") == 0  # the advice works
    (out / "d.geojson").unlink()
    args = ["batch-detect", "--checkpoint", str(checkpoint), "--chips-dir", str(out)]
    assert main([*args, "--output-geojson", str(tmp_path / "x.geojson")]) == 2
    assert "no chips matching '*.tif'" in capsys.readouterr().err


def test_detect_refuses_to_overwrite(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_scene(tmp_path / "scene.tif", 40, 40)
    (tmp_path / "d.geojson").write_text("keep")
    assert detect(checkpoint, image, tmp_path) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "d.geojson").read_text() == "keep"
    assert detect(checkpoint, image, tmp_path, "--overwrite") == 0
    assert len(json.loads((tmp_path / "d.geojson").read_text())["features"]) == 1


def test_all_nodata_scene_says_so(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_scene(
        tmp_path / "empty.tif", 40, 40, nodata=0, nodata_region=(slice(None), slice(None))
    )
    assert detect(checkpoint, image, tmp_path) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == (
        "detect: 0 detections in empty.tif: every pixel is nodata, nothing was scanned"
    )
    assert "tgdc: warning: 0 detections in empty.tif: every pixel is nodata" in captured.err
    assert json.loads((tmp_path / "d.geojson").read_text())["features"] == []


def test_help_states_the_predictor_defaults() -> None:
    parser = build_parser()
    detect_parser = parser._subparsers._group_actions[0].choices["detect"]
    helps = {action.dest: action.help for action in detect_parser._actions}
    defaults = {field.name: field for field in dataclasses.fields(PredictorOptions)}
    for name in ("overlap", "min_area", "merge_distance", "num_workers"):
        assert f">= 0; default: {defaults[name].default:g})" in helps[name]
    assert (
        "(a whole number from 1 to 4096; default: the smallest of 256, 288, 320 whose"
        in (helps["tile_size"])
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--overlap", "-1"], "--overlap -1 must be a whole number >= 0"),
        (["--threshold", "1"], "--threshold 1.0 must be a number above 0 and below 1"),
        (["--tile-size", "0"], "--tile-size 0 must be a whole number from 1 to 4096"),
        (["--min-area", "nan"], "--min-area nan must be a number >= 0"),
        (["--input-scale", "-2"], "--input-scale -2 must be 'auto' or a number above 0"),
        (["--split-width", "-2"], "--split-width -2.0 must be a number >= 0"),
        (
            ["--tile-size", "64", "--overlap", "64"],
            "--overlap 64 must be a whole number from 0 to 63, below the tile size",
        ),
    ],
)
def test_a_bad_option_value_is_one_line_naming_the_flag_before_the_model_loads(
    given: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # No checkpoint at all: the options are refused before the model would load.
    image = write_scene(tmp_path / "scene.tif", 64, 64)
    out = tmp_path / "d.geojson"
    args = ["detect", "--checkpoint", str(tmp_path / "none.ckpt"), "--image", str(image)]
    assert main([*args, "--output-geojson", str(out), *given]) == 2
    assert capsys.readouterr().err.splitlines() == [f"tgdc detect: error: {message}"]
    assert not out.exists()


def test_detect_records_the_acquisition_date(checkpoint: Path, tmp_path: Path) -> None:
    # A NAIP name carries the date the quarter quad was flown; --date overrides it.
    image = write_scene(tmp_path / "m_4208701_ne_16_060_20200902.tif", 64, 64)
    assert detect(checkpoint, image, tmp_path) == 0
    (feature,) = json.loads((tmp_path / "d.geojson").read_text())["features"]
    assert feature["properties"]["acquired"] == "2020-09-02"
    assert detect(checkpoint, image, tmp_path, "--date", "2021-06-30", "--overwrite") == 0
    (feature,) = json.loads((tmp_path / "d.geojson").read_text())["features"]
    assert feature["properties"]["acquired"] == "2021-06-30"
    # GDAL reads the property as a date.
    (acquired,) = gpd.read_file(tmp_path / "d.geojson")["acquired"]
    assert acquired.date().isoformat() == "2021-06-30"


def test_detect_refuses_a_bad_date(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_scene(tmp_path / "scene.tif", 64, 64)
    assert detect(checkpoint, image, tmp_path, "--date", "2021-13-01") == 2
    assert "--date: '2021-13-01' is not a date; give it as YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "d.geojson").exists()


def campus_scene(path: Path) -> Path:
    """Two halls of 40 x 40 px (24 m) joined by a corridor 4 px (2.4 m) wide, the rest nodata.

    The everywhere-positive checkpoint finds every valid pixel: one mask-joined campus.
    """
    array = scene_array(40, 110, [])
    valid = np.zeros((40, 110), bool)
    valid[:, :40] = valid[:, 70:] = valid[18:22, 40:70] = True
    array[:, ~valid] = 0
    return write_raster(path, array, "EPSG:32617", utm_transform(), nodata=0)


def test_regularize_and_split_width_reach_detect_and_batch_detect_and_keep_the_mask(
    checkpoint: Path, tmp_path: Path
) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    image = campus_scene(chips / "campus.tif")
    plain, halls = tmp_path / "plain", tmp_path / "halls"
    plain.mkdir()
    halls.mkdir()
    extra = ["--output-mask", "MASK", "--output-csv", "CSV"]
    for out, flags in ((plain, []), (halls, ["--regularize", "--split-width", "6"])):
        args = [
            arg.replace("MASK", str(out / "m.tif")).replace("CSV", str(out / "d.csv"))
            for arg in extra
        ]
        assert detect(checkpoint, image, out, *args, *flags) == 0
    assert "outline" not in gpd.read_file(plain / "d.geojson")
    found = gpd.read_file(halls / "d.geojson")
    assert len(found) == 2 and list(found["outline"]) == ["regularized"] * 2
    assert list(found["site_id"]) == [1, 1]
    utm = found.to_crs("EPSG:32617")
    # Each hall is its 24 m square and half the corridor (15 m x 2.4 m).
    assert sorted(utm.area) == pytest.approx([24 * 24 + 18 * 2.4 / 2] * 2, rel=0.02)
    # Areas are the written outlines' (the GeoJSON's are rounded to 1e-7 degrees).
    assert list(found["area_m2"]) == pytest.approx(list(utm.area), rel=1e-3)
    header = (halls / "d.csv").read_text().splitlines()[0]
    assert header.endswith(",outline,site_id")
    # The mask is the traced pixels whatever the outlines.
    with rasterio.open(plain / "m.tif") as a, rasterio.open(halls / "m.tif") as b:
        assert (a.read() == b.read()).all()
    out = tmp_path / "batch.geojson"
    args = ["batch-detect", "--checkpoint", str(checkpoint), "--chips-dir", str(chips)]
    assert main([*args, "--output-geojson", str(out), *FAST, "--regularize"]) == 0
    (feature,) = json.loads(out.read_text())["features"]
    assert feature["properties"]["outline"] == "regularized"
    assert feature["properties"]["site_id"] == 1
