import math
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS
from rasterio.transform import from_origin

from torchgeo_datacenters.detections import order_detections
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.grid import Grid
from torchgeo_datacenters.outputs import FORMATS, VectorFormat
from torchgeo_datacenters.outputs.space import (
    CHIP_BYTES,
    DETECTION_AREA_M2,
    PAGE_BYTES,
    PAGE_SITE_BYTES,
    STAC_IMAGE_BYTES,
    STAC_JSON_BYTES,
    check_free_space,
    most_detections,
    output_sizes,
    page_bytes,
    stac_bytes,
    table_bytes,
    vector_format,
)

#: 1 km² of ground at 0.5 m: at most 1e6 / 2800 = 358 detections.
GRID = Grid(CRS("EPSG:32618"), from_origin(300_000, 4_300_000, 0.5, 0.5), 2000, 2000)


def test_a_scene_holds_at_most_its_area_over_the_smallest_data_center() -> None:
    assert most_detections(GRID) == 358 == -(-1_000_000 // DETECTION_AREA_M2)
    lonlat = Grid(CRS("EPSG:4326"), from_origin(-77.5, 39.0, 1e-5, 1e-5), 1000, 1000)
    # 0.01 degrees square at 39 N: about 1.11 km x 0.86 km.
    assert most_detections(lonlat) == pytest.approx(1.11e3 * 0.864e3 / DETECTION_AREA_M2, rel=0.01)


def detections(count: int, source: str = "noise.tif") -> gpd.GeoDataFrame:
    """*count* detections of the smallest data center's area, 64-vertex outlines, 200 m apart.

    Every column is filled; *source* names the scene they come from.
    """
    radius = math.sqrt(DETECTION_AREA_M2 / math.pi)
    centres = gpd.GeoSeries(
        [shapely.Point(500_000 + 200 * i, 4_300_000) for i in range(count)], crs=32618
    )
    lonlat = centres.to_crs(4326)
    table = gpd.GeoDataFrame(
        {
            "id": range(count),
            "area_m2": DETECTION_AREA_M2,
            "centroid_lon": lonlat.x,
            "centroid_lat": lonlat.y,
            "score": 0.87654321,
            "max_score": 0.98765432,
            "source": source,
            "source_item": "va_m_3907864_sw_17_060_20210912",
            "acquired": "2021-09-12",
        },
        geometry=centres.buffer(radius, quad_segs=16).to_crs(4326),
    )
    return order_detections(table)


@pytest.mark.parametrize("kind", ["geojson", "csv", "gpkg", "parquet"])
def test_each_format_measured_with_its_writer_fits_its_estimate(kind: str, tmp_path: Path) -> None:
    # Detections of the smallest data center's area with 64-vertex outlines (traced ones
    # are simplified to fewer) and every column filled, 16 and 32 of them: the file's fixed
    # bytes and the bytes per detection the format declares must hold them, and not be
    # more than twice what they take.
    output = FORMATS[kind]
    assert isinstance(output, VectorFormat)
    sizes = {}
    for count in (16, 32):
        table = detections(count, source="m_3907864_sw_17_060_20210912.tif")
        path = tmp_path / f"{count}{output.extension}"
        output.write(table, path)
        sizes[count] = path.stat().st_size
    each = (sizes[32] - sizes[16]) / 16
    fixed = sizes[16] - 16 * each
    assert each <= output.detection_bytes <= 2 * each
    assert fixed <= output.file_bytes <= max(2 * fixed, 200)
    assert sizes[32] <= output.file_bytes + 32 * output.detection_bytes


def test_rasters_count_their_pixels_and_a_full_file_system_is_refused(tmp_path: Path) -> None:
    sizes = output_sizes({"mask": tmp_path / "m.tif", "probabilities": tmp_path / "p.tif"}, [GRID])
    assert sizes == {tmp_path / "m.tif": 4_000_000, tmp_path / "p.tif": 16_000_000}
    check_free_space({tmp_path / "a": 1})
    with pytest.raises(TGDCError, match=r"a: cannot be written: no space left on device"):
        check_free_space({tmp_path / "a": 2**62})


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random 4-band pixels under :func:`detections` (40 of them): the least compressible."""
    import numpy as np
    import rasterio

    path = tmp_path_factory.mktemp("noise") / "noise.tif"
    pixels = np.random.default_rng(0).integers(0, 256, (4, 400, 8400), dtype="uint8")
    profile = {"driver": "GTiff", "width": 8400, "height": 400, "count": 4, "dtype": "uint8"}
    transform = from_origin(499_800, 4_300_120, 1.0, 0.6)
    with rasterio.open(path, "w", crs="EPSG:32618", transform=transform, **profile) as dst:
        dst.write(pixels)
    return path


def test_a_page_measured_with_its_writer_fits_its_estimate(noise: Path, tmp_path: Path) -> None:
    # Report pages of 0, 16 and 32 sites without imagery, then with the noise image; review
    # pages (a chip of noise per detection, the first 20 twice) of 24 and 40: each figure
    # holds what it counts and is not more than twice that.
    from torchgeo_datacenters.outputs.report import write_report
    from torchgeo_datacenters.outputs.review import FIRST_CHIPS, write_review

    report = {
        n: write_report(tmp_path / f"r{n}.html", detections(n), []).stat().st_size
        for n in (0, 16, 32)
    }
    site = (report[32] - report[16]) / 16
    assert site <= PAGE_SITE_BYTES <= 2 * site
    shown = write_report(tmp_path / "image.html", detections(0), [noise]).stat().st_size
    assert shown <= page_bytes(0, 1)
    review = {
        n: write_review(tmp_path / f"v{n}.html", detections(n), [noise], threshold=0.5)
        .stat()
        .st_size
        for n in (24, 40)
    }
    chip = (review[40] - review[24]) / 16 - site
    assert chip <= CHIP_BYTES <= 2 * chip
    # The fixed part of either page: the review's own script makes its larger.
    image = shown - report[0]
    fixed = max(report[0], review[24] - 24 * site - (24 + FIRST_CHIPS) * chip - image)
    assert fixed <= PAGE_BYTES <= 2 * fixed
    assert review[40] <= page_bytes(40, 1, chips=40)


def test_a_table_counts_long_outlines_as_several_detections(tmp_path: Path) -> None:
    # An OpenStreetMap-like inventory polygon of 649 vertices takes the bytes of 10
    # detections, a point those of one; written as tgdc change and compare write tables.
    from torchgeo_datacenters.detections.files import write_vector

    ring = shapely.Point(-77.5, 39.0).buffer(0.01, quad_segs=162)
    assert shapely.get_num_coordinates(ring) == 649
    geojson = vector_format(tmp_path / "sites.json")
    assert geojson is FORMATS["geojson"]
    assert table_bytes(geojson, [ring, shapely.Point(0, 0)]) == 100 + 2_000 * (10 + 1)
    table = gpd.GeoDataFrame({"name": ["a"]}, geometry=[ring], crs=4326)
    written = write_vector(table, tmp_path / "ring.geojson")
    assert written.stat().st_size <= table_bytes(geojson, [ring])


def test_outputs_in_a_directory_not_made_yet_count_where_it_will_be_made(tmp_path: Path) -> None:
    check_free_space({tmp_path / "new" / "deeper" / "a.geojson": 1})
    with pytest.raises(TGDCError, match=r"a.geojson: cannot be written: .*; set TMPDIR"):
        check_free_space({tmp_path / "new" / "a.geojson": 2**62}, advice="set TMPDIR")
    assert list(tmp_path.iterdir()) == []


def test_a_stac_collection_measured_with_its_writer_fits_its_estimate(tmp_path: Path) -> None:
    # Catalogues of 0 and 32 detections linking 1 and 11 rasters: the JSON of one raster
    # and the bytes each further raster adds fit their figures and are not less than half
    # of them; the whole catalogue fits stac_bytes.
    from support.inference import save_checkpoint

    from torchgeo_datacenters.inference.model import read_checkpoint_facts
    from torchgeo_datacenters.outputs.provenance import Provenance, item_provenance
    from torchgeo_datacenters.outputs.stac import write_stac

    facts = read_checkpoint_facts(save_checkpoint(tmp_path / "model.ckpt", logit=5.0))

    def provenance(i: int) -> Provenance:
        name = f"va_m_3907864_sw_17_060_2021091{i % 10}"
        footprint = shapely.box(-78.0 + 0.01 * i, 39.0, -77.99 + 0.01 * i, 39.01)
        item = {
            "id": name,
            "geometry": shapely.geometry.mapping(footprint),
            "properties": {"datetime": "2021-09-12T16:00:00Z"},
        }
        return item_provenance(item, f"{name}.tif", f"http://127.0.0.1:1/items/{name}")

    sizes = {}
    for count, images in ((0, 1), (0, 11), (32, 11)):
        directory = tmp_path / f"stac-{count}-{images}"
        provenances = [provenance(i) for i in range(images)]
        write_stac(directory, detections(count), provenances, facts, item_id="scene")
        sizes[count, images] = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        assert sizes[count, images] <= stac_bytes(count, images)
    item = tmp_path / "stac-0-1" / "scene"
    tables = sum(
        (item / name).stat().st_size for name in ("detections.geojson", "detections.parquet")
    )
    json_bytes = sizes[0, 1] - tables
    assert json_bytes <= STAC_JSON_BYTES <= 2 * json_bytes
    each = (sizes[0, 11] - sizes[0, 1]) / 10
    assert each <= STAC_IMAGE_BYTES <= 2 * each
