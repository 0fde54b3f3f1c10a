"""The review page: its order and chips, and a person's verdicts driven in real Chromium."""

import base64
import io
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.warp
import shapely
from PIL import Image
from support.browser import CHROMIUM, playwright_chromium, report_data
from support.inference import bright_roofs, write_scene

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections.verdicts import (
    VERDICT_COLUMNS,
    labelled_sites,
    read_verdicts,
    run_id,
)
from torchgeo_datacenters.detections.writers import write_geojson
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.outputs import review as review_module
from torchgeo_datacenters.outputs.review import (
    CHIP_OUTLINE,
    STORAGE_PREFIX,
    detection_chips,
    review_order,
    write_review,
)

#: (row, col, height, width) of six roofs, in pixels of 0.6 m.
ROOFS = [(10, 10, 40, 60), (80, 100, 20, 20), (80, 10, 30, 30), (140, 20, 25, 50)]
ROOFS += [(150, 110, 30, 35), (10, 120, 30, 30)]

#: Scores given to the six detections (ids 1..6), so that the order is known.
SCORES = [0.9, 0.55, 0.7, 0.95, 0.6, 0.8]

#: The page's order of the six (ids): the lowest score (2: 0.55), then the detection least
#: like it in score, chip colours and area (6: 0.8, the roof with the most ground at its
#: edge), the lowest left (5: 0.6), and so on (asserted in
#: ``test_the_page_orders_detections_by_score_and_chip``).
REVIEW_ORDER = [2, 6, 5, 4, 3, 1]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gpd.GeoDataFrame, Path]:
    """A scene, its six detections (written as tgdc detect writes them) and their page."""
    directory = tmp_path_factory.mktemp("review")
    scene = write_scene(directory / "scene.tif", 200, 170, ROOFS)
    predictor = Predictor(bright_roofs(), min_area=0, progress=False, num_workers=0)
    detections = predictor.predict(scene).gdf.assign(score=SCORES)
    write_geojson(detections, directory / "detections.geojson")
    page = write_review(directory / "review.html", detections, [scene], threshold=0.5)
    return scene, detections, page


def test_review_order_by_score_alone_is_least_confident_first() -> None:
    order = review_order(np.array(SCORES))
    assert [i + 1 for i in order] == [2, 5, 3, 6, 1, 4]
    # Ties keep the table's order.
    assert review_order(np.array([0.6, 0.3, 0.8, 0.6])).tolist() == [1, 0, 3, 2]
    # Sites labelled before come last, lowest score first among them too.
    labelled = np.array([True, False, True, False, False, True])
    order = review_order(np.array(SCORES), labelled)
    assert [i + 1 for i in order] == [2, 5, 4, 3, 6, 1]


def test_review_order_alternates_the_least_confident_and_the_most_unlike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Four look-alikes the model is unsure of (0-3), one detection unlike them all that it
    # is sure of (4) and one like them that it is sure of (5).
    scores = np.array([0.70, 0.71, 0.72, 0.73, 0.90, 0.91])
    traits = np.array([[0.0], [0.0], [0.0], [0.0], [10.0], [0.0]])
    # The lowest score, the most unlike it, the lowest left, the farthest from those
    # three (by its score), then the rest.
    assert review_order(scores, None, traits).tolist() == [0, 4, 1, 5, 2, 3]
    # A trait not known (no chip) counts as the mean: the same order here.
    unknown = traits.copy()
    unknown[1] = np.nan
    assert review_order(scores, None, unknown).tolist() == [0, 4, 1, 5, 2, 3]
    # No trait known: unlike by score alone.
    assert review_order(scores, None, np.full((6, 1), np.nan)).tolist() == [0, 5, 1, 3, 2, 4]
    # Sites labelled before still come last.
    labelled = np.array([True, False, False, False, False, False])
    assert review_order(scores, labelled, traits).tolist() == [1, 4, 2, 5, 3, 0]
    # After the places filled alternately, the rest lowest score first.
    monkeypatch.setattr(review_module, "VARIED_PLACES", 2)
    assert review_order(scores, None, traits).tolist() == [0, 4, 1, 2, 3, 5]


def test_the_page_orders_detections_by_score_and_chip(
    run: tuple[Path, gpd.GeoDataFrame, Path],
) -> None:
    scene, detections, page = run
    chips = detection_chips(detections, [scene])
    # The colours inside each outline: the bright roofs, darker where the outline's edge
    # takes in ground (all_touched), and most spread on the smallest roof.
    assert chips.appearance.shape == (len(detections), 6)
    assert (chips.appearance[:, :3] > 200).all() and (chips.appearance[:, 3:] > 0).all()
    areas = detections["area_m2"].to_numpy()
    assert chips.traits(detections)[:, 6] == pytest.approx(np.log(areas))
    order = review_order(np.array(SCORES), None, chips.traits(detections))
    assert detections["id"].to_numpy()[order].tolist() == REVIEW_ORDER
    assert report_data(page, "review-data")["order"] == REVIEW_ORDER


def _decode(uri: str) -> np.ndarray:
    header, body = uri.split(",", 1)
    assert header == "data:image/jpeg;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(body))).convert("RGB"))


def test_chips_show_the_imagery_around_each_detection(
    run: tuple[Path, gpd.GeoDataFrame, Path],
) -> None:
    scene, detections, _ = run
    chips = detection_chips(detections, [scene]).uris
    assert len(chips) == len(detections)
    # Each detection is one roof (areas in 0.6 m pixels).
    areas = sorted(round(a / 0.36) for a in detections["area_m2"])
    assert areas == sorted(h * w for _, _, h, w in ROOFS)
    for chip, (_, row) in zip(chips, detections.iterrows(), strict=True):
        assert chip is not None
        pixels = _decode(chip).astype(int)
        size, width, _ = pixels.shape
        assert size == width
        # The outline, in its colour, is centred in the chip with the roof's shape; the
        # roof inside it is bright, the ground just outside it dark.
        rows, cols = np.nonzero(np.abs(pixels - np.array(CHIP_OUTLINE)).sum(axis=2) < 100)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        assert (top + bottom) / 2 == pytest.approx(size / 2, abs=2)
        assert (left + right) / 2 == pytest.approx(size / 2, abs=2)
        (_, _, height_px, width_px) = next(
            r for r in ROOFS if r[2] * r[3] == round(row["area_m2"] / 0.36)
        )
        assert (right - left) / (bottom - top) == pytest.approx(width_px / height_px, rel=0.1)
        assert pixels[top + 4 : bottom - 3, left + 4 : right - 3].min() > 200
        assert pixels[top - 4, left:right].max() < 60 and pixels[bottom + 4, left:right].max() < 60
    # No raster under a detection: no chip.
    far = detections.assign(geometry=detections.geometry.translate(1.0, 1.0), source="other.tif")
    far = far.assign(centroid_lon=far.centroid_lon + 1.0, centroid_lat=far.centroid_lat + 1.0)
    far_chips = detection_chips(far, [scene])
    assert far_chips.uris == [None] * len(detections)
    assert np.isnan(far_chips.appearance).all()


def _map_point(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where a point of the map is on the screen, in CSS pixels."""
    point = page.evaluate(
        "([lat, lon]) => window.review.map.latLngToContainerPoint([lat, lon])", [lat, lon]
    )
    box = page.locator("#map").bounding_box()
    return box["x"] + point["x"], box["y"] + point["y"]


def _current(page: Any) -> int:
    return int(page.inner_text("#info b").lstrip("#"))


def _export(page: Any, key: str = "e") -> dict[str, Any]:
    with page.expect_download() as download:
        page.keyboard.press(key)
    return json.loads(Path(download.value.path()).read_text("utf-8"))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_a_reviewer_judges_draws_exports_and_reloads(
    run: tuple[Path, gpd.GeoDataFrame, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, detections, page_path = run
    with playwright_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_function("window.review !== undefined")

        assert page.evaluate("window.review.order") == REVIEW_ORDER
        assert page.inner_text("#counter").startswith("6 of 6 left")
        assert _current(page) == REVIEW_ORDER[0]
        assert page.locator("#chip img").get_attribute("src").startswith("data:image/jpeg")
        o = REVIEW_ORDER

        # Keys and clicks through every detection.
        page.keyboard.press("a")  # accept o[0]
        assert _current(page) == o[1]
        page.keyboard.press("w")  # o[1] a warehouse
        page.keyboard.press("s")  # skip o[2]
        assert _current(page) == o[3]
        page.keyboard.press("r")  # o[3] retail
        page.click("button[data-class=other]")  # o[4] other, by the mouse
        assert _current(page) == o[5]
        page.keyboard.press("u")  # undo: back to o[4], not judged
        assert _current(page) == o[4]
        assert "not judged yet" in page.inner_text("#info")
        page.keyboard.press("o")  # o[4] other again
        page.keyboard.press("ArrowLeft")
        assert _current(page) == o[4] and "rejected as other" in page.inner_text("#info")
        page.keyboard.press("p")
        assert _current(page) == o[3] and "rejected as retail" in page.inner_text("#info")
        page.keyboard.press("n")
        page.keyboard.press("ArrowRight")
        assert _current(page) == o[5]
        page.keyboard.press("a")  # accept o[5]; the next left is the skipped o[2]
        assert _current(page) == o[2]
        assert page.inner_text("#counter").startswith("1 of 6 left · 2 accepted · 3 rejected")

        # A missed site drawn as a polygon (Esc cancels a first try), then one as a box.
        west, south, east, north = detections.total_bounds
        width, height = east - west, north - south
        corners = [(0.15, 0.42), (0.30, 0.42), (0.30, 0.55), (0.15, 0.55)]
        polygon = [(west + x * width, south + y * height) for x, y in corners]
        page.keyboard.press("d")
        page.mouse.click(*_map_point(page, *polygon[0]))
        page.keyboard.press("Escape")
        page.keyboard.press("d")
        for corner in polygon:
            page.mouse.click(*_map_point(page, *corner))
        page.keyboard.press("Enter")
        box = [
            (west + 0.55 * width, south + 0.40 * height),
            (west + 0.7 * width, south + 0.5 * height),
        ]
        page.keyboard.press("b")
        for corner in box:
            page.mouse.click(*_map_point(page, *corner))
        assert page.inner_text("#counter").endswith("2 missed drawn")
        # Undo takes the box back; it is drawn again.
        page.keyboard.press("Control+z")
        assert page.inner_text("#counter").endswith("1 missed drawn")
        page.keyboard.press("b")
        for corner in box:
            page.mouse.click(*_map_point(page, *corner))

        exported = _export(page)
        state = page.evaluate("window.review.state")
        key = page.evaluate(
            f"Object.keys(localStorage).filter(k => k.startsWith('{STORAGE_PREFIX}'))"
        )

        # A reload keeps every verdict and the place in the queue; the export is the same.
        page.reload()
        page.wait_for_function("window.review !== undefined")
        assert page.inner_text("#counter").startswith("1 of 6 left · 2 accepted · 3 rejected")
        assert page.inner_text("#counter").endswith("2 missed drawn")
        assert _current(page) == o[2]
        again = _export(page)
        context.close()

    assert errors == []
    # Nothing but the page itself and its own data and blobs is fetched.
    assert all(url.startswith(("file:", "data:", "blob:")) for url in fetched), fetched
    run_of = run_id(detections)
    assert key == [STORAGE_PREFIX + run_of]
    assert again == exported

    # The export equals the verdicts: one feature each, in the label files' schema.
    features = exported["features"]
    assert [list(f["properties"]) for f in features] == [list(VERDICT_COLUMNS)] * 7
    judged = {f["properties"]["detection_id"]: f for f in features[:5]}
    expected = {o[0]: "datacenter", o[1]: "warehouse", o[3]: "retail", o[4]: "other"}
    expected[o[5]] = "datacenter"
    assert {i: f["properties"]["class"] for i, f in judged.items()} == expected
    by_id = detections.set_index("id")
    for detection_id, feature in judged.items():
        properties = feature["properties"]
        verdict = state["verdicts"][str(detection_id)]
        assert properties["reviewed_at"] == verdict["reviewed_at"]
        assert properties["label"] == (properties["class"] == "datacenter")
        assert properties["verdict"] == ("accepted" if properties["label"] else "rejected")
        assert properties["score"] == SCORES[detection_id - 1]
        assert properties["source"] == "scene.tif" and properties["run"] == run_of
        outline = shapely.geometry.shape(feature["geometry"])
        assert outline.equals_exact(by_id.loc[detection_id, "geometry"], tolerance=1e-7)
    drawn = [f for f in features if f["properties"]["verdict"] == "missed"]
    assert [f["properties"]["class"] for f in drawn] == ["datacenter", "datacenter"]
    assert all(f["properties"]["detection_id"] is None for f in drawn)
    assert all(f["properties"]["source"] == "scene.tif" for f in drawn)
    # The drawn outlines are where they were clicked, to a screen pixel (< 0.3 m here).
    ring = np.array(drawn[0]["geometry"]["coordinates"][0])
    assert np.allclose(ring[:-1], polygon, atol=4e-6)
    drawn_box = shapely.geometry.shape(drawn[1]["geometry"])
    assert np.allclose(drawn_box.bounds, [*box[0], *box[1]], atol=4e-6)

    # The file is a label file `tgdc labels merge` takes, checked against its run.
    export = tmp_path / "verdicts.geojson"
    export.write_text(json.dumps(exported), "utf-8")
    assert len(read_verdicts(export)) == 7
    detections_file = page_path.parent / "detections.geojson"
    labels = tmp_path / "labels.geojson"
    args = ["labels", "merge", str(export), "--detections", str(detections_file)]
    assert main([*args, "--output", str(labels)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "tgdc labels merge: 7 site(s) from 1 file(s): 4 data center(s) (2 accepted, 2 missed),"
        " 3 hard negative(s) (1 warehouse, 1 retail, 1 other); 0 judged twice"
    )
    merged = gpd.read_file(labels)
    assert sorted(merged["class"]) == sorted(["datacenter"] * 4 + ["warehouse", "retail", "other"])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chips_after_the_first_come_from_the_text_read_after_the_script(
    run: tuple[Path, gpd.GeoDataFrame, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene, detections, _ = run
    # Two chips in the page's data, the other four in the text that follows its script.
    monkeypatch.setattr(review_module, "FIRST_CHIPS", 2)
    page_path = write_review(tmp_path / "review.html", detections, [scene], threshold=0.5)
    chips = dict(zip(detections["id"], detection_chips(detections, [scene]).uris, strict=True))
    with playwright_chromium() as browser:
        page = browser.new_page()
        page.goto(page_path.as_uri())
        page.wait_for_function("window.review !== undefined")
        shown = []
        for _ in REVIEW_ORDER:
            shown.append((_current(page), page.locator("#chip img").get_attribute("src")))
            page.keyboard.press("n")
    assert shown == [(number, chips[number]) for number in REVIEW_ORDER]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_a_site_drawn_outside_the_imagery_is_kept_with_a_warning(
    run: tuple[Path, gpd.GeoDataFrame, Path],
) -> None:
    scene, _, page_path = run
    with rasterio.open(scene) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, 4326, *src.bounds)
    width = east - west
    with playwright_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(page_path.as_uri())
        page.wait_for_function("window.review !== undefined")
        page.evaluate(
            "window.review.map.setZoom(window.review.map.getZoom() - 2, {animate: false})"
        )
        inside = [(west + 0.2 * width, south + 0.2 * (north - south)), (west + 0.4 * width, north)]
        outside = [(east + 0.2 * width, south), (east + 0.5 * width, north)]
        statuses = []
        for box in (inside, outside):
            page.keyboard.press("b")
            for corner in box:
                page.mouse.click(*_map_point(page, *corner))
            statuses.append(page.inner_text("#status"))
        exported = _export(page)
    assert statuses == [
        "Marked drawn-1 as a missed data center",
        "Marked drawn-2 as a missed data center; it lies outside this page's imagery: training"
        " needs imagery around it (tgdc download --sites)",
    ]
    # Kept all the same (its imagery may come from STAC), with no source scene.
    sources = [f["properties"]["source"] for f in exported["features"]]
    assert sources == ["scene.tif", None]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_sites_labelled_before_come_last_with_their_class(
    run: tuple[Path, gpd.GeoDataFrame, Path], tmp_path: Path
) -> None:
    scene, detections, _ = run
    # The previous round's labels: detection 2 (the lowest score, first to review) given a
    # class of the user's own, which the page shows as text, not as markup.
    labels = gpd.GeoDataFrame(
        {"class": ["<i>warehouse</i>"], "label": [False]},
        geometry=[detections.set_index("id").geometry[2]],
        crs=4326,
    )
    page_path = write_review(
        tmp_path / "review.html",
        detections,
        [scene],
        threshold=0.5,
        labelled=labelled_sites(detections, labels),
    )
    with playwright_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(page_path.as_uri())
        page.wait_for_function("window.review !== undefined")
        order = page.evaluate("window.review.order")
        header = page.inner_text("#run")
        first = page.inner_text("#info")
        for _ in order[1:]:
            page.keyboard.press("n")
        last = page.inner_text("#info")
    # The others in the page's order among themselves, detection 2 last.
    traits = detection_chips(detections, [scene]).traits(detections)
    ranked = review_order(np.array(SCORES), detections["id"].to_numpy() == 2, traits)
    assert order == detections["id"].to_numpy()[ranked].tolist()
    assert order[-1] == 2
    assert (
        "the least confident and the least alike in turn, the 1 on sites labelled before last"
        in header
    )
    assert first.endswith("not judged yet")
    assert last.startswith("#2 (6 of 6)")
    assert last.endswith("not judged yet (labelled before as <i>warehouse</i>)")
