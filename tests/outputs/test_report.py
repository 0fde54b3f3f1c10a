from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.browser import CHROMIUM, open_in_chromium, screenshot
from support.inference import bright_roofs, write_scene

from torchgeo_datacenters.detections import change, compare
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.outputs.report import render_report, write_report
from torchgeo_datacenters.outputs.styles import STATUS_COLOURS

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

#: (row, col, height, width) of three roofs of different sizes.
ROOFS = [(10, 10, 40, 60), (80, 100, 20, 20), (80, 10, 30, 30)]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = write_scene(tmp_path_factory.mktemp("report") / "scene.tif", 120, 160, ROOFS)
    predictor = Predictor(bright_roofs(), min_area=0, progress=False, num_workers=0)
    return path, predictor.predict(path).gdf


def test_report_works_offline_in_chromium(scene: tuple[Path, object], tmp_path: Path) -> None:
    image, detections = scene
    page = write_report(tmp_path / "report.html", detections, [image])
    record = open_in_chromium(page).record
    assert record["errors"] == []
    # Everything is in the page: no file or network resource is fetched.
    assert all(name.startswith("data:") for name in record["resources"])
    assert record["rows"] == len(detections) == 3
    # Clicking the first row zooms the map onto that site and shows its thumbnail.
    before, after = record["before"], record["after"]
    assert after["zoom"] != before["zoom"] or after["center"] != before["center"]
    first = detections.iloc[0]
    assert after["center"]["lat"] == pytest.approx(first.centroid_lat, abs=1e-5)
    assert after["center"]["lng"] == pytest.approx(first.centroid_lon, abs=1e-5)
    assert record["selected"] == ["1"] and record["thumbnail"]["width"] > 0
    # Largest first on the first click on the area header, smallest first on the second.
    by_area = detections.sort_values("area_m2")["id"].tolist()
    assert record["area_first_click"] == by_area[::-1]
    assert record["area_second_click"] == by_area


def test_report_screenshot_is_not_blank(scene: tuple[Path, object], tmp_path: Path) -> None:
    image, detections = scene
    page = write_report(tmp_path / "report.html", detections, [image])
    pixels = np.asarray(Image.open(screenshot(page, tmp_path / "shot.png")).convert("RGB"))
    assert pixels.shape[:2] == (800, 1280)
    # Dark ground and bright roofs of the scene, outlines and the table all show.
    assert pixels.std() > 40 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


def test_report_colours_by_status_and_handles_no_detections(
    scene: tuple[Path, object], tmp_path: Path
) -> None:
    _, detections = scene
    changed = detections.assign(status=["new", "gone", "unchanged"])
    page = write_report(tmp_path / "change.html", changed, colour_by="status")
    record = open_in_chromium(page).record
    assert record["errors"] == [] and record["rows"] == 3
    assert '"colourBy":"status"' in page.read_text()
    empty = write_report(tmp_path / "empty.html", detections.iloc[:0])
    record = open_in_chromium(empty).record
    assert record["errors"] == [] and record["rows"] == 0


def test_existing_report_is_kept(scene: tuple[Path, object], tmp_path: Path) -> None:
    _, detections = scene
    (tmp_path / "r.html").write_text("old")
    with pytest.raises(TGDCError, match="already exists"):
        write_report(tmp_path / "r.html", detections)
    assert (tmp_path / "r.html").read_text() == "old"
    assert (
        "</script"
        not in render_report(detections.assign(source="</script>x"))
        .split('id="report-data"')[1]
        .split("</script>")[0]
    )


def test_status_colours_are_exactly_the_change_and_compare_statuses() -> None:
    assert list(STATUS_COLOURS) == [*change.STATUSES, *compare.STATUSES]


def test_unknown_status_is_refused_and_nothing_written(
    scene: tuple[Path, object], tmp_path: Path
) -> None:
    _, detections = scene
    changed = detections.assign(status=["new", "changed", "gone"])
    with pytest.raises(ValueError, match=r"\['changed'\] have no colour"):
        write_report(tmp_path / "r.html", changed, colour_by="status")
    assert list(tmp_path.iterdir()) == []
