from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image
from support.browser import CHROMIUM, evaluate_in_chromium, open_in_chromium, screenshot
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


#: Run in a large report once it is open: the table's rows at the start, after scrolling to
#: the end, after a click on an outline and after sorting by area.
WALK_THE_TABLE = """(async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const scroller = document.getElementById("rows");
  const ids = () =>
    Array.from(document.querySelectorAll("#body tr"), (tr) => Number(tr.dataset.id));
  const walk = { open: ids() };
  scroller.scrollTop = scroller.scrollHeight;
  await frame(); await frame();
  walk.end = ids();
  window.report.layers.get(1000).fire("click");
  await frame();
  const row = document.querySelector("#body tr.selected");
  const [r, box] = [row.getBoundingClientRect(), scroller.getBoundingClientRect()];
  walk.selected = Number(row.dataset.id);
  walk.in_view = r.top >= box.top && r.bottom <= box.bottom;
  document.querySelector('#head th[data-key="area_m2"]').click();
  await frame();
  walk.sorted = ids();
  return walk;
})()"""


def test_large_report_builds_only_the_rows_in_view(tmp_path: Path) -> None:
    # 2,000 detections on a grid: a table of every row takes seconds to lay out, so the page
    # holds the rows near the view and scrolling, clicks and sorting reach all of them.
    count = 2000
    corners = [(-87.0 + (n % 50) * 1e-3, 42.0 - (n // 50) * 1e-3) for n in range(count)]
    areas = np.random.default_rng(0).uniform(3000, 100_000, count)
    detections = gpd.GeoDataFrame(
        {"id": np.arange(1, count + 1), "area_m2": areas, "score": 0.9},
        geometry=[shapely.box(x, y, x + 5e-4, y + 5e-4) for x, y in corners],
        crs=4326,
    )
    page = write_report(tmp_path / "large.html", detections)
    walked = evaluate_in_chromium(page, WALK_THE_TABLE)
    assert walked.errors == []
    walk = walked.value
    assert 10 < len(walk["open"]) < 200 and walk["open"] == list(range(1, len(walk["open"]) + 1))
    assert walk["end"][-1] == count and walk["end"] == list(range(walk["end"][0], count + 1))
    # A click on an outline far down the list scrolls its row into view, highlighted.
    assert walk["selected"] == 1000 and walk["in_view"]
    # Sorted by area, largest first: the rows at the top of the table are the largest.
    largest = detections.sort_values("area_m2", ascending=False)["id"].tolist()
    assert walk["sorted"] == largest[: len(walk["sorted"])] and len(walk["sorted"]) > 10


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


def test_report_lists_the_outline_and_site_of_written_outlines(
    scene: tuple[Path, object], tmp_path: Path
) -> None:
    image, _ = scene
    predictor = Predictor(
        bright_roofs(), min_area=0, progress=False, num_workers=0, regularize=True
    )
    detections = predictor.predict(image).gdf
    page = write_report(tmp_path / "report.html", detections, [image])
    record = open_in_chromium(page).record
    assert record["errors"] == [] and record["rows"] == 3
    text = page.read_text()
    assert text.count('"outline":"regularized"') == 3
    assert all(f'"site_id":{site}' in text for site in detections["site_id"])
