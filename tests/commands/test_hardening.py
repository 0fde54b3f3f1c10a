"""Every command against bad input: exit != 0, one readable line, no traceback, no output."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from support.data import write_raster
from support.inference import save_checkpoint, write_scene

from torchgeo_datacenters.cli import build_parser, main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad-inputs")
    files = {"root": root}
    files["scene"] = write_scene(root / "scene.tif", 64, 64)
    files["checkpoint"] = save_checkpoint(root / "model.ckpt")
    truncated = root / "truncated.ckpt"
    truncated.write_bytes(files["checkpoint"].read_bytes()[:2000])
    files["truncated"] = truncated
    files["jpeg"] = root / "photo.tif"
    files["jpeg"].write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))
    files["rgb"] = write_raster(
        root / "rgb.tif", np.zeros((3, 32, 32), np.uint8), "EPSG:32617", from_origin(0, 0, 0.6, 0.6)
    )
    nocrs = root / "nocrs.tif"
    with rasterio.open(
        nocrs, "w", driver="GTiff", width=32, height=32, count=4, dtype="uint8"
    ) as dst:
        dst.write(np.zeros((4, 32, 32), np.uint8))
    files["nocrs"] = nocrs
    unreadable = root / "unreadable.tif"
    unreadable.write_bytes(files["scene"].read_bytes())
    unreadable.chmod(0)
    files["unreadable"] = unreadable
    chips = root / "chips"
    chips.mkdir()
    write_scene(chips / "a.tif", 64, 64)
    files["chips"] = chips

    def collection(features: list[dict], **extra: object) -> Path:
        path = root / f"labels{len(list(root.glob('labels*')))}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra}))
        return path

    square = {
        "type": "Polygon",
        "coordinates": [[[-81.0, 39.7], [-80.99, 39.7], [-80.99, 39.71], [-81.0, 39.7]]],
    }
    props = {"fid": 1, "class": "datacenter", "name": "x", "label": True}
    files["empty_labels"] = collection([])
    files["point_labels"] = collection(
        [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [-81.0, 39.7]},
            }
        ]
    )
    files["unknown_class"] = collection(
        [{"type": "Feature", "properties": {**props, "class": "hospitl"}, "geometry": square}]
    )
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame(
        {"fid": [1], "class": ["datacenter"], "name": ["x"], "label": [True]},
        geometry=[shapely.box(0, 0, 10, 10)],
    ).to_file(root / "nocrs_labels.shp")
    files["nocrs_labels"] = root / "nocrs_labels.shp"
    return files


def _cases(f: dict[str, Path]) -> dict[str, list[str]]:
    out = f["root"] / "out"
    scene, ckpt = str(f["scene"]), str(f["checkpoint"])
    detect = ["detect", "--checkpoint", ckpt, "--output-geojson", str(out / "d.geojson")]
    return {
        "detect missing image": [*detect, "--image", str(f["root"] / "missing.tif")],
        "detect unreadable image": [*detect, "--image", str(f["unreadable"])],
        "detect JPEG renamed .tif": [*detect, "--image", str(f["jpeg"])],
        "detect 3-band raster": [*detect, "--image", str(f["rgb"])],
        "detect raster without CRS": [*detect, "--image", str(f["nocrs"])],
        "detect truncated checkpoint": [
            "detect",
            "--checkpoint",
            str(f["truncated"]),
            "--image",
            scene,
            "--output-geojson",
            str(out / "d.geojson"),
        ],
        "detect checkpoint missing": [
            "detect",
            "--checkpoint",
            str(f["root"] / "none.ckpt"),
            "--image",
            scene,
            "--output-geojson",
            str(out / "d.geojson"),
        ],
        "detect tile size zero": [*detect, "--image", scene, "--tile-size", "0"],
        "detect negative overlap": [*detect, "--image", scene, "--overlap", "-4"],
        "detect overlap larger than tile": [
            *detect,
            "--image",
            scene,
            "--tile-size",
            "64",
            "--overlap",
            "80",
        ],
        "detect output in missing directory": [
            "detect",
            "--checkpoint",
            ckpt,
            "--image",
            scene,
            "--output-geojson",
            str(f["root"] / "nowhere" / "d.geojson"),
        ],
        "detect existing output": [
            "detect",
            "--checkpoint",
            ckpt,
            "--image",
            scene,
            "--output-geojson",
            scene,
        ],
        "batch-detect missing dir": [
            "batch-detect",
            "--checkpoint",
            ckpt,
            "--chips-dir",
            str(f["root"] / "nochips"),
            "--output-geojson",
            str(out / "b.geojson"),
        ],
        **{
            f"chips {case}": [
                "chips",
                "--chips-dir",
                str(f["chips"]),
                "--labels",
                str(labels),
                "--output-dir",
                str(out / "masks"),
            ]
            for case, labels in {
                "missing labels": f["root"] / "none.geojson",
                "labels without features": f["empty_labels"],
                "labels of points": f["point_labels"],
                "labels with unknown class": f["unknown_class"],
                "labels without CRS": f["nocrs_labels"],
            }.items()
        },
        "synth zero size": ["synth", "--output-dir", str(out / "synth"), "--size", "0"],
        "synth negative count": ["synth", "--output-dir", str(out / "synth"), "--count", "-1"],
        "download latitude out of range": [
            "download",
            "--lat",
            "95",
            "--lon",
            "-82",
            "--output",
            str(out / "s.tif"),
        ],
        "download outside the US": [
            "download",
            "--lat",
            "48.85",
            "--lon",
            "2.35",
            "--output",
            str(out / "s.tif"),
        ],
        "download zero size": [
            "download",
            "--lat",
            "40.0",
            "--lon",
            "-82.7",
            "--size",
            "0",
            "--output",
            str(out / "s.tif"),
        ],
        "demo zero epochs": ["demo", "--output-dir", str(out / "demo"), "--epochs", "0"],
    }


CASE_NAMES = [
    "detect missing image",
    "detect unreadable image",
    "detect JPEG renamed .tif",
    "detect 3-band raster",
    "detect raster without CRS",
    "detect truncated checkpoint",
    "detect checkpoint missing",
    "detect tile size zero",
    "detect negative overlap",
    "detect overlap larger than tile",
    "detect output in missing directory",
    "detect existing output",
    "batch-detect missing dir",
    "chips missing labels",
    "chips labels without features",
    "chips labels of points",
    "chips labels with unknown class",
    "chips labels without CRS",
    "synth zero size",
    "synth negative count",
    "download latitude out of range",
    "download outside the US",
    "download zero size",
    "demo zero epochs",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_is_one_clear_line(
    case: str, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    if case == "detect unreadable image" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their permissions")
    args = _cases(inputs)[case]
    out = inputs["root"] / "out"
    out.mkdir(exist_ok=True)
    before = sorted(p for p in inputs["root"].rglob("*"))
    status = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(err) == 1, err
    assert err[0].startswith(f"tgdc {args[0]}: error:") and "Traceback" not in err[0]
    assert sorted(p for p in inputs["root"].rglob("*")) == before


def test_every_case_is_listed(inputs: dict[str, Path]) -> None:
    assert sorted(_cases(inputs)) == sorted(CASE_NAMES)


def test_debug_shows_the_traceback(inputs: dict[str, Path]) -> None:
    from torchgeo_datacenters.errors import TGDCError

    with pytest.raises(TGDCError):
        main(["--debug", "synth", "--output-dir", str(inputs["root"] / "x"), "--size", "0"])


def test_help_lists_every_option_with_units() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    units = ("pixel", "metre", "m²", "m2", "degree", "second", "file", "dir", "path", "url")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings} has no help"
            if action.type in (int, float) and action.dest not in {
                "count",
                "seed",
                "epochs",
                "batch_size",
                "workers",
                "num_workers",
                "retries",
                "per_site",
                "year",
                "threshold",
                "gpus_per_worker",
                "min_score",  # a probability, like threshold
                "min_growth",  # a fraction of an area
            }:
                text = f"{action.help} {action.metavar or ''}".lower()
                assert any(u in text for u in units), (
                    f"{name} {action.option_strings}: {action.help}"
                )


def test_an_output_over_an_input_another_output_or_under_a_file_is_refused(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, scene, ckpt = inputs["root"], str(inputs["scene"]), str(inputs["checkpoint"])
    chips = inputs["chips"]
    labels = str(inputs["unknown_class"])
    detect = ["detect", "--checkpoint", ckpt, "--image", scene, "--overwrite"]
    cases = {
        # --overwrite would have the run replace the file it reads
        "is also an input of the command (--image)": [*detect, "--output-geojson", scene],
        "is also an input of the command (--checkpoint)": [
            *["export", "--checkpoint", ckpt, "--onnx", ckpt, "--overwrite"]
        ],
        "is also an input of the command (VERDICTS)": [
            *["labels", "merge", labels, "--output", labels, "--overwrite"]
        ],
        "is also an input of the command (--labels)": [
            *["review", "--detections", str(inputs["empty_labels"]), "--image", scene],
            *["--labels", labels, "--output", str(root / "." / Path(labels).name)],
            "--overwrite",
        ],
        # Outputs a command would write over the files it reads from its folders.
        "is also an input of the command (--chips-dir); writing it would replace what is"
        " read: choose another output directory": [
            *["chips", "--chips-dir", str(chips), "--labels", labels, "--output-dir", str(chips)],
            "--overwrite",
        ],
        f"{chips / 'a.tif'}: is one of the files the command reads from --chips-dir ({chips},"
        " *.tif)": [
            *["batch-detect", "--checkpoint", ckpt, "--chips-dir", str(chips)],
            *["--output-geojson", str(chips / "a.tif"), "--overwrite"],
        ],
        # An output directory where a file is.
        f"{scene}/masks: {scene} is a file; give a directory": [
            *["chips", "--chips-dir", str(chips), "--labels", labels],
            *["--output-dir", f"{scene}/masks"],
        ],
        f"{scene}: {scene} is a file; give a directory": ["synth", "--output-dir", scene],
        # A FILE@DATE input is the file.
        "is also an input of the command (--detections)": [
            *["change", "--detections", f"{labels}@2018-01-01", f"{scene}@2020-01-01"],
            *["--output", labels, "--overwrite"],
        ],
        "is also given as --output-report; give each output its own path": [
            *[*detect, "--output-geojson", str(root / "out" / "a.html")],
            *["--output-report", str(root / "out" / "a.html")],
        ],
        "a browser opens it by its name; give a file name ending in .html (e.g. r.html)": [
            *[*detect, "--output-geojson", str(root / "out" / "r.geojson")],
            *["--output-review", str(root / "out" / "r.png")],
        ],
        f"{scene}/d.geojson: {scene} is a file, not a directory; choose another output path": [
            *detect,
            *["--output-geojson", f"{scene}/d.geojson"],
        ],
    }
    (root / "out").mkdir(exist_ok=True)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and os.access(p, os.R_OK)}
    for message, args in cases.items():
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("tgdc ") and message in err[0], (args, err)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and os.access(p, os.R_OK)}
    assert after == before
