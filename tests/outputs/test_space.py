from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS
from rasterio.transform import from_origin

from torchgeo_datacenters.detections import order_detections
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.grid import Grid
from torchgeo_datacenters.outputs import FORMATS
from torchgeo_datacenters.outputs.space import (
    DETECTION_AREA_M2,
    check_free_space,
    detection_bytes,
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
def test_the_estimate_holds_real_tables_of_traced_detections(kind: str, tmp_path: Path) -> None:
    # 50 detections as a run traces them (squarish roofs, 20-odd vertices).
    rings = [shapely.Point(300_100 + 90 * i, 4_299_900).buffer(30, quad_segs=5) for i in range(50)]
    shapes = gpd.GeoSeries(rings, crs="EPSG:32618")
    centres = shapes.centroid.to_crs(4326)
    table = gpd.GeoDataFrame(
        {
            "id": range(50),
            "area_m2": shapes.area,
            "centroid_lon": centres.x,
            "centroid_lat": centres.y,
            "score": 0.9,
            "max_score": 0.99,
            "source": "scene.tif",
        },
        geometry=shapes.to_crs(4326),
    )
    path = tmp_path / f"d{FORMATS[kind].extension}"  # type: ignore[attr-defined]
    FORMATS[kind].write(order_detections(table), path)  # type: ignore[attr-defined]
    fixed, each = detection_bytes(kind)
    assert each > 0
    assert path.stat().st_size <= fixed + 50 * each


def test_rasters_count_their_pixels_and_a_full_file_system_is_refused(tmp_path: Path) -> None:
    sizes = output_sizes({"mask": tmp_path / "m.tif", "probabilities": tmp_path / "p.tif"}, [GRID])
    assert sizes == {tmp_path / "m.tif": 4_000_000, tmp_path / "p.tif": 16_000_000}
    check_free_space({tmp_path / "a": 1})
    with pytest.raises(TGDCError, match=r"a: cannot be written: no space left on device"):
        check_free_space({tmp_path / "a": 2**62})
