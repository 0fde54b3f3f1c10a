"""Lightning data modules and geographic splits."""

from .datacenters import DataCenterDataModule
from .splits import GeoSplit, grid_split

__all__ = ["DataCenterDataModule", "GeoSplit", "grid_split"]
