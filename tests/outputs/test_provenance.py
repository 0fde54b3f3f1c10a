import datetime as dt

import geopandas as gpd
import shapely

from torchgeo_datacenters.outputs.provenance import Provenance, SourcePart, attach_provenance


def test_each_detection_gets_the_date_of_its_own_pixels() -> None:
    west, east = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    provenance = Provenance(
        "scene.tif",
        "/scene.tif",
        shapely.box(0, 0, 2, 1),
        ("w", "e"),
        (dt.date(2022, 7, 1), dt.date(2022, 8, 15)),
        parts=(
            SourcePart("e", (dt.date(2022, 8, 15),), east),
            SourcePart("w", (dt.date(2022, 7, 1),), west),
        ),
    )
    detections = gpd.GeoDataFrame(
        {"source": ["scene.tif"] * 3},
        geometry=[
            shapely.box(0.2, 0.2, 0.4, 0.4),  # west pixels only
            shapely.box(1.2, 0.2, 1.4, 0.4),  # east pixels only
            shapely.box(0.8, 0.2, 1.2, 0.4),  # across both
        ],
        crs=4326,
    )
    found = attach_provenance(detections, {"scene.tif": provenance})
    assert list(found["acquired"]) == ["2022-07-01", "2022-08-15", "2022-07-01/2022-08-15"]
    assert list(found["source_item"]) == ["w", "e", "e,w"]
