from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from torchgeo_datacenters.detections.footprint import read_footprint
from torchgeo_datacenters.errors import TGDCError

UTM = "EPSG:32617"
X, Y = 500000.0, 4400000.0


def test_footprint_of_vectors_and_rasters(tmp_path: Path) -> None:
    # A raster whose west half is nodata: only the east half was scanned.
    data = np.zeros((1, 100, 100), np.uint8)
    data[:, :, 50:] = 7
    with rasterio.open(
        tmp_path / "scene.tif",
        "w",
        driver="GTiff",
        width=100,
        height=100,
        count=1,
        dtype="uint8",
        crs=UTM,
        transform=from_origin(X, Y + 100, 1, 1),
        nodata=0,
    ) as dst:
        dst.write(data)
    area = gpd.GeoSeries([read_footprint([tmp_path / "scene.tif"])], crs=4326).to_crs(UTM)
    assert area.area.iloc[0] == pytest.approx(5000, rel=1e-3)
    assert area.bounds.iloc[0].tolist() == pytest.approx([X + 50, Y, X + 100, Y + 100], abs=1e-3)
    aoi = gpd.GeoSeries([shapely.box(X - 50, Y - 50, X + 1000, Y + 500)], crs=UTM).to_crs(4326)
    gpd.GeoDataFrame(geometry=aoi).to_file(tmp_path / "aoi.geojson")
    both = read_footprint([tmp_path / "aoi.geojson", tmp_path / "scene.tif"])
    assert both.contains(read_footprint([tmp_path / "scene.tif"]).buffer(-1e-7))
    with pytest.raises(TGDCError, match=r"missing\.tif: footprint raster does not exist"):
        read_footprint([tmp_path / "missing.tif"])
