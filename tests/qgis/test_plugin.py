"""The QGIS plugin in Debian's real QGIS, headless: listed, same detections, Cancel, errors."""

import json
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
from support.inference import save_random_checkpoint
from support.qgis import HeadlessQgis, headless_qgis

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.options import PRECISIONS
from torchgeo_datacenters.outputs.styles import STYLE_NAME

#: Options of every run: a threshold and minimum area at which the random model finds
#: blobs of a few hundred to a few thousand m² in the SYNTHETIC scene, on the CPU.
THRESHOLD, MIN_AREA = 0.58, 50.0


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory) -> HeadlessQgis:
    return headless_qgis(tmp_path_factory.mktemp("qgis-home"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A SYNTHETIC scene (tgdc synth) and a random UNet4 checkpoint."""
    directory = tmp_path_factory.mktemp("inputs")
    argv = ["synth", "--output-dir", str(directory), "--size", "512", "--count", "1"]
    assert main([*argv, "--seed", "3"]) == 0
    checkpoint = save_random_checkpoint(directory / "model.ckpt", logit=0.0)
    return directory / "scene_000.tif", checkpoint


@pytest.fixture(scope="module")
def cli_detections(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The detections of `tgdc detect` on the command line, as a GeoPackage."""
    scene, checkpoint = inputs
    out = tmp_path_factory.mktemp("cli")
    argv = ["detect", "--image", str(scene), "--checkpoint", str(checkpoint), "--device", "cpu"]
    argv += ["--threshold", str(THRESHOLD), "--min-area", str(MIN_AREA)]
    argv += ["--output-geojson", str(out / "detections.geojson")]
    assert main([*argv, "--output-gpkg", str(out / "detections.gpkg")]) == 0
    return out / "detections.gpkg"


def detect_parameters(inputs: tuple[Path, Path], out: Path) -> dict[str, object]:
    """Parameters of Detect data centers on the CPU, writing into *out*."""
    scene, checkpoint = inputs
    return {
        "INPUT": str(scene),
        "MODEL": str(checkpoint),
        "THRESHOLD": THRESHOLD,
        "MIN_AREA": MIN_AREA,
        "DEVICE": 1,  # cpu
        "OUTPUT": str(out / "detections.gpkg"),
        "MASK": str(out / "mask.tif"),
    }


def test_provider_and_its_algorithms_are_listed(qgis: HeadlessQgis) -> None:
    listed = qgis.process("list")
    assert listed.returncode == 0, listed.stderr
    assert "Data centers (tgdc)" in listed.stdout
    for algorithm in ("tgdc:detect", "tgdc:compare", "tgdc:change"):
        assert algorithm in listed.stdout


def test_detect_in_qgis_gives_the_detections_of_tgdc_detect(
    qgis: HeadlessQgis,
    inputs: tuple[Path, Path],
    cli_detections: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    detect_help = capsys.readouterr().out
    (tmp_path / "qgis").mkdir()
    report = qgis.drive("load", detect_parameters(inputs, tmp_path / "qgis"))
    assert report["error"] is None, report["log"]
    # The parameters follow tgdc's options: the precisions are tgdc's, in its order.
    assert report["parameters"]["PRECISION"] == list(PRECISIONS)
    assert ("REGULARIZE" in report["parameters"]) == ("--regularize" in detect_help)
    # tgdc's progress bar reached QGIS's feedback.
    assert any(text.startswith("tiles: 100%") for text in report["progress"])
    expected = gpd.read_file(cli_detections, layer="detections")
    actual = gpd.read_file(tmp_path / "qgis" / "detections.gpkg", layer="detections")
    assert len(expected) >= 3
    assert actual.drop(columns="geometry").equals(expected.drop(columns="geometry"))
    assert actual.crs == expected.crs
    assert actual.geometry.geom_equals_exact(expected.geometry, tolerance=0).all()
    scene = inputs[0]
    with rasterio.open(tmp_path / "qgis" / "mask.tif") as mask, rasterio.open(scene) as image:
        assert (mask.crs, mask.transform, mask.shape) == (image.crs, image.transform, image.shape)
        assert mask.read(1).max() == 1
    # Loaded as the toolbox loads it: styled by tgdc's GeoPackage style (outlines graduated
    # by score), not with QGIS's single symbol, and with every detection.
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["Data centers"]["renderer"] == "graduatedSymbol"
    assert layers["Data centers"]["features"] == len(expected)
    styles = gpd.read_file(tmp_path / "qgis" / "detections.gpkg", layer="layer_styles")
    assert list(styles["styleName"]) == [STYLE_NAME]


def test_cancel_stops_tgdc_and_leaves_nothing(
    qgis: HeadlessQgis, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    report = qgis.drive("cancel", detect_parameters(inputs, tmp_path))
    assert report["error"] == "tgdc detect: cancelled; no output was written"
    # Cancel came while tgdc was writing: its staged mask was there, then removed.
    assert any(name.startswith(".tgdc-") for name in report["files_at_cancel"])
    assert "tgdc detect: terminated (SIGTERM)" in report["log"]
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_bad_input_is_tgdcs_one_line_error(
    qgis: HeadlessQgis, inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    scene, _ = inputs
    not_a_model = tmp_path / "labels.ckpt"
    not_a_model.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    out = tmp_path / "out"
    out.mkdir()
    argv = ["detect", "--image", str(scene), "--checkpoint", str(not_a_model)]
    assert main([*argv, "--output-geojson", str(out / "d.geojson")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tgdc detect: error: ")
    run = qgis.process(
        "run",
        "tgdc:detect",
        "--",
        f"INPUT={scene}",
        f"MODEL={not_a_model}",
        f"OUTPUT={out / 'detections.gpkg'}",
    )
    assert run.returncode != 0
    # The algorithm's error is tgdc's line, as tgdc prints it on the command line.
    assert line in (run.stdout + run.stderr).splitlines()
    assert list(out.iterdir()) == []


def test_compare_loads_matched_candidates_and_missed(
    qgis: HeadlessQgis, inputs: tuple[Path, Path], cli_detections: Path, tmp_path: Path
) -> None:
    scene, _ = inputs
    parameters = {
        "DETECTIONS": str(cli_detections),
        "INVENTORY": [str(scene.parent / "labels.geojson")],
        "FOOTPRINT": [str(scene)],
        "OUTPUT_DIR": str(tmp_path / "compare"),
    }
    report = qgis.drive("load", parameters, "tgdc:compare")
    assert report["error"] is None, report["log"]
    # tgdc compare's summary reached QGIS's log.
    assert any(line.split()[:3] == ["inventory", "sites", "found"] for line in report["log"])
    layers = {layer["name"]: layer["features"] for layer in report["layers"]}
    matched = gpd.read_file(tmp_path / "compare" / "matched.geojson")
    candidates = gpd.read_file(tmp_path / "compare" / "candidates.geojson")
    missed = gpd.read_file(tmp_path / "compare" / "missed.geojson")
    assert layers == {
        "Matched sites": len(matched),
        "Candidates (in no inventory)": len(candidates),
        "Missed inventory sites": len(missed),
    }
    # Every detection is either matched with a labelled site or a candidate.
    assert len(matched) + len(candidates) == len(gpd.read_file(cli_detections, layer="detections"))


def test_change_between_two_dated_layers(
    qgis: HeadlessQgis, cli_detections: Path, tmp_path: Path
) -> None:
    parameters = {
        "DETECTIONS": [str(cli_detections), str(cli_detections)],
        "DATES": "2018-07-01, 2020-07-01",
        "OUTPUT": str(tmp_path / "sites.gpkg"),
    }
    report = qgis.drive("load", parameters, "tgdc:change")
    assert report["error"] is None, report["log"]
    sites = gpd.read_file(tmp_path / "sites.gpkg")
    # The same detections in both years: every site is unchanged, first seen in 2018.
    assert len(sites) == len(gpd.read_file(cli_detections, layer="detections"))
    assert set(sites["status"]) == {"unchanged"}
    assert [layer["features"] for layer in report["layers"]] == [len(sites)]
