import geopandas as gpd
import shapely

from torchgeo_datacenters.detections.schema import order_detections


def test_order_is_north_to_south_then_west_to_east() -> None:
    table = gpd.GeoDataFrame(
        {
            "id": 0,
            "area_m2": [1.0, 2.0, 3.0],
            "centroid_lon": [-81.0, -81.2, -81.1],
            "centroid_lat": [39.0, 39.5, 39.0],
            "score": 0.9,
            "max_score": 1.0,
            "source": "a.tif",
        },
        geometry=[shapely.Point(0, 0)] * 3,
        crs=4326,
    )
    ordered = order_detections(table)
    assert ordered["area_m2"].tolist() == [2.0, 3.0, 1.0]
    assert ordered["id"].tolist() == [1, 2, 3]
    shuffled = order_detections(table.iloc[[2, 0, 1]])
    assert shuffled["area_m2"].tolist() == [2.0, 3.0, 1.0]
