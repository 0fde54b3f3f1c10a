from pyproj import CRS
from support.inference import UTM

from torchgeo_datacenters.detections.metric import metric_crs


def test_metric_crs() -> None:
    utm = CRS(UTM)
    assert metric_crs(utm, (500000, 4400000, 501000, 4401000)) == utm
    assert metric_crs(CRS(4326), (-81.1, 39.7, -81.0, 39.8)).to_epsg() == 32617
    # New York State Plane in US feet: measured in UTM 18N instead.
    ny = metric_crs(CRS(2263), (980000, 190000, 990000, 200000))
    assert ny.to_epsg() == 32618
