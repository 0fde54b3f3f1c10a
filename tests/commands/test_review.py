"""Tests of ``tgdc review`` and of ``--output-review`` on the commands that detect."""

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from affine import Affine
from shapely.affinity import translate
from support.browser import report_data
from support.inference import save_checkpoint, utm_transform, write_scene

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections.files import read_vector
from torchgeo_datacenters.detections.verdicts import run_id

FAST = [
    *("--tile-size", "64", "--overlap", "16", "--min-area", "0"),
    *("--device", "cpu", "--num-workers", "0"),
]


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A checkpoint, a scene and the detections `tgdc detect` wrote of it, with its page."""
    directory = tmp_path_factory.mktemp("detected")
    checkpoint = save_checkpoint(directory / "model.ckpt", logit=5.0)
    scene = write_scene(
        directory / "scene.tif", 64, 150, nodata=0, nodata_region=(slice(None), slice(0, 30))
    )
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(scene), *FAST]
    args += ["--output-geojson", str(directory / "d.geojson"), "--threshold", "0.7"]
    assert main([*args, "--output-review", str(directory / "review.html")]) == 0
    return checkpoint, scene, directory


def test_detect_writes_a_review_page_of_its_run(
    detected: tuple[Path, Path, Path],
) -> None:
    _, _, directory = detected
    data = report_data(directory / "review.html", "review-data")
    detections = read_vector(directory / "d.geojson", "detections")
    # The page's run is the file's: verdicts exported from it merge against the file.
    assert data["run"] == run_id(detections)
    assert data["threshold"] == 0.7
    assert data["order"] == [1]
    # One chip a line, where the offsets say.
    text = (directory / "review.html").read_text("utf-8")
    start = text.index('<script id="review-chips" type="text/plain">')
    chips = text[text.index(">", start) + 1 : text.index("</script>", start)].split("\n")
    assert len(chips) == 1 and chips[0].startswith("data:image/jpeg;base64,")
    assert data["chipOffsets"] == [0, len(chips[0]) + 1]


def test_review_builds_the_same_page_from_the_detections_file(
    detected: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, scene, directory = detected
    page = tmp_path / "review.html"
    args = ["review", "--detections", str(directory / "d.geojson"), "--image", str(scene)]
    assert main([*args, "--output", str(page), "--threshold", "0.7"]) == 0
    run = run_id(read_vector(directory / "d.geojson", "detections"))
    assert capsys.readouterr().out.splitlines() == [
        f"review: {page}",
        f"tgdc review: 1 detection(s) of run {run} to judge",
    ]
    assert report_data(page, "review-data") == report_data(directory / "review.html", "review-data")
    # Without --threshold the page shows none (a detections file does not record it).
    unknown = tmp_path / "unknown.html"
    assert main([*args, "--output", str(unknown)]) == 0
    assert report_data(unknown, "review-data")["threshold"] is None
    # An existing page is kept without --overwrite.
    assert main([*args, "--output", str(page)]) == 2
    assert "exists" in capsys.readouterr().err


def write_earlier_labels(detections: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """The previous round's merge (a GeoPackage in a metric CRS: the first detection
    rejected as a warehouse) and a seed label elsewhere (a data center 0.01° east)."""
    earlier = gpd.GeoDataFrame(
        {"class": ["warehouse", "datacenter"], "label": [False, True]},
        geometry=[detections.geometry.iloc[0], translate(detections.geometry.iloc[0], 0.01)],
        crs=4326,
    )
    earlier.iloc[:1].to_crs(earlier.estimate_utm_crs()).to_file(folder / "round1.gpkg")
    earlier.iloc[1:].to_file(folder / "seed.geojson")
    return [folder / "round1.gpkg", folder / "seed.geojson"]


def test_review_puts_sites_labelled_before_last(
    detected: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, scene, directory = detected
    detections = read_vector(directory / "d.geojson", "detections")
    round1, seed = write_earlier_labels(detections, tmp_path)
    page = tmp_path / "review.html"
    args = ["review", "--detections", str(directory / "d.geojson"), "--image", str(scene)]
    args += ["--labels", str(round1), "--labels", str(seed)]
    assert main([*args, "--output", str(page)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"tgdc review: 1 detection(s) of run {run_id(detections)} to judge (1 of them on sites"
        " labelled before, shown last)"
    )
    assert report_data(page, "review-data")["labelled"] == {"1": "warehouse"}
    # A file that is no label file is refused in one line, and no page is written.
    (tmp_path / "bad.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties":'
        ' {"name": "x"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}'
    )
    args[-1] = str(tmp_path / "bad.geojson")
    assert main([*args, "--output", str(tmp_path / "bad.html")]) == 2
    assert capsys.readouterr().err == (
        f"tgdc review: error: {tmp_path / 'bad.geojson'}: has no class, label properties; give"
        " a label file in the project's schema (class, label), such as one `tgdc labels"
        " merge` wrote\n"
    )
    assert not (tmp_path / "bad.html").exists()


def test_detect_review_puts_the_sites_of_review_labels_last(
    detected: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    checkpoint, scene, directory = detected
    round1, seed = write_earlier_labels(
        read_vector(directory / "d.geojson", "detections"), tmp_path
    )
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(scene), *FAST]
    args += ["--threshold", "0.7", "--output-geojson", str(tmp_path / "d.geojson")]
    review = ["--output-review", str(tmp_path / "r.html")]
    review += ["--review-labels", str(round1), "--review-labels", str(seed)]
    assert main([*args, *review]) == 0
    data = report_data(tmp_path / "r.html", "review-data")
    assert data["labelled"] == {"1": "warehouse"} and data["order"] == [1]
    # The same page as `tgdc review --labels` builds from the run's files.
    again = ["review", "--detections", str(tmp_path / "d.geojson"), "--image", str(scene)]
    again += ["--threshold", "0.7", "--labels", str(round1), "--labels", str(seed)]
    assert main([*again, "--output", str(tmp_path / "again.html")]) == 0
    assert report_data(tmp_path / "again.html", "review-data") == data
    capsys.readouterr()
    # Without the page, or with a file that is no label file: one line, nothing written.
    out = tmp_path / "none"
    out.mkdir()
    args[-1] = str(out / "d.geojson")
    assert main([*args, "--review-labels", str(round1)]) == 2
    assert capsys.readouterr().err == (
        f"tgdc detect: error: {round1}: --review-labels orders the review"
        " page; add --output-review FILE, or drop --review-labels\n"
    )
    (tmp_path / "points.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties":'
        ' {"class": "warehouse", "label": false}, "geometry": {"type": "Point",'
        ' "coordinates": [0, 0]}}]}'
    )
    review = ["--output-review", str(out / "r.html")]
    assert main([*args, *review, "--review-labels", str(tmp_path / "points.geojson")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"tgdc detect: error: {tmp_path / 'points.geojson'}: ")
    assert error.count("\n") == 1 and "polygon" in error
    assert sorted(out.iterdir()) == []


def test_review_refuses_images_under_none_of_the_detections(
    detected: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, scene, directory = detected
    # A scene 10 km east of the one the detections were found in.
    elsewhere = write_scene(
        tmp_path / "elsewhere.tif",
        64,
        150,
        transform=utm_transform() @ Affine.translation(16667, 0),
    )
    page = tmp_path / "review.html"
    args = ["review", "--detections", str(directory / "d.geojson"), "--image", str(elsewhere)]
    assert main([*args, "--output", str(page)]) == 2
    assert capsys.readouterr().err == (
        f"tgdc review: error: {elsewhere}: none of the 1 detection(s) lie under the image(s)"
        f" given; give the GeoTIFF(s) the detections were found in, e.g. {scene.name}\n"
    )
    assert not page.exists() and sorted(tmp_path.iterdir()) == [elsewhere]
    # Following the advice: the scene itself.
    assert main([*args[:-1], str(scene), "--output", str(page)]) == 0
    # Imagery under some of them: a page, with a warning for the others.
    detections = read_vector(directory / "d.geojson", "detections")
    far = detections.assign(
        id=2,
        source="elsewhere-else.tif",
        geometry=detections.geometry.translate(0.1),
        centroid_lon=detections["centroid_lon"] + 0.1,
    )
    two = pd.concat([detections, far], ignore_index=True).pipe(gpd.GeoDataFrame, crs=4326)
    two.to_file(tmp_path / "two.geojson")
    args = ["review", "--detections", str(tmp_path / "two.geojson"), "--image", str(scene)]
    assert main([*args, "--output", str(tmp_path / "two.html")]) == 0
    assert capsys.readouterr().err == (
        "tgdc: warning: 1 of 2 detection(s) lie under none of the images given, so the page"
        " shows no imagery for them; give the GeoTIFFs the detections were found in\n"
    )


def test_review_of_a_run_that_found_nothing_is_a_page_to_draw_missed_sites_on(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # A GeoJSON file of no features keeps no columns: it is still a detections file.
    checkpoint = save_checkpoint(tmp_path / "nothing.ckpt", logit=-5.0)
    scene = write_scene(tmp_path / "scene.tif", 64, 150)
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(scene), *FAST]
    args += ["--output-geojson", str(tmp_path / "d.geojson")]
    assert main([*args, "--output-review", str(tmp_path / "detect.html")]) == 0
    assert read_vector(tmp_path / "d.geojson", "detections").empty
    page = tmp_path / "review.html"
    review = ["review", "--detections", str(tmp_path / "d.geojson"), "--image", str(scene)]
    assert main([*review, "--output", str(page), "--threshold", "0.5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("tgdc review: 0 detection(s)")
    data = report_data(page, "review-data")
    assert data["order"] == [] and data == report_data(tmp_path / "detect.html", "review-data")


def test_review_refuses_bad_input_in_one_line(
    detected: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, scene, directory = detected
    page = tmp_path / "review.html"
    not_detections = tmp_path / "sites.geojson"
    gpd.read_file(directory / "d.geojson")[["geometry"]].to_file(not_detections)
    no_crs = tmp_path / "plain.tif"
    write_scene(no_crs, 8, 8, crs=None)
    cases = [
        (
            ["--detections", str(not_detections), "--image", str(scene)],
            f"{not_detections}: detections: columns id, area_m2, centroid_lon, centroid_lat,"
            " score, max_score, source are missing; give a detections file written by tgdc"
            " detect, batch-detect or scan",
        ),
        (
            ["--detections", str(directory / "d.geojson"), "--image", str(no_crs)],
            f"{no_crs}: raster has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:26916"
            f" {no_crs})",
        ),
        (
            ["--detections", str(tmp_path / "none.geojson"), "--image", str(scene)],
            f"{tmp_path / 'none.geojson'}: detections file does not exist",
        ),
        (
            [
                *("--detections", str(directory / "d.geojson")),
                *("--image", str(scene), "--threshold", "1.5"),
            ],
            "--threshold: threshold 1.5 must be a probability strictly between 0 and 1",
        ),
    ]
    for args, message in cases:
        assert main(["review", *args, "--output", str(page)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"tgdc review: error: {message}"), err
        assert err.count("\n") == 1
        assert not page.exists()


@pytest.mark.parametrize("name", ["page.png", "page", "page.geojson"])
def test_a_page_is_refused_a_name_a_browser_would_not_open_as_html(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = write_scene(tmp_path / "scene.tif", 64, 64)
    detections = tmp_path / "d.geojson"
    detections.write_text('{"type": "FeatureCollection", "features": []}')
    args = ["review", "--detections", str(detections), "--image", str(scene)]
    assert main([*args, "--output", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give a file name ending in .html" in err[0], err
    assert not (tmp_path / name).exists()
