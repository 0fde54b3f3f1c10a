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
    DETECTION_AREA_M2,
    check_free_space,
    most_detections,
    output_sizes,
)

#: 1 km² of ground at 0.5 m: at most 1e6 / 2800 = 358 detections.
GRID = Grid(CRS("EPSG:32618"), from_origin(300_000, 4_300_000, 0.5, 0.5), 2000, 2000)


def test_a_scene_holds_at_most_its_area_over_the_smallest_data_center() -> None:
    assert most_detections(GRID) == 358 == -(-1_000_000 // DETECTION_AREA_M2)
    lonlat = Grid(CRS("EPSG:4326"), from_origin(-77.5, 39.0, 1e-5, 1e-5), 1000, 1000)
    # 0.01 degrees square at 39 N: about 1.11 km x 0.86 km.
    assert most_detections(lonlat) == pytest.approx(1.11e3 * 0.864e3 / DETECTION_AREA_M2, rel=0.01)


@pytest.mark.parametrize("kind", ["geojson", "csv", "gpkg", "parquet"])
def test_each_format_measured_with_its_writer_fits_its_estimate(kind: str, tmp_path: Path) -> None:
    # Detections of the smallest data center's area with 64-vertex outlines (traced ones
    # are simplified to fewer) and every column filled, 16 and 32 of them: the file's fixed
    # bytes and the bytes per detection the format declares must hold them, and not be
    # more than twice what they take.
    output = FORMATS[kind]
    assert isinstance(output, VectorFormat)
    radius = math.sqrt(DETECTION_AREA_M2 / math.pi)
    sizes = {}
    for count in (16, 32):
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
                "source": "m_3907864_sw_17_060_20210912.tif",
                "source_item": "va_m_3907864_sw_17_060_20210912",
                "acquired": "2021-09-12",
            },
            geometry=centres.buffer(radius, quad_segs=16).to_crs(4326),
        )
        path = tmp_path / f"{count}{output.extension}"
        output.write(order_detections(table), path)
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
