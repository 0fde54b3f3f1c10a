"""Lightning data modules and geographic splits."""

from .datacenters import TRAINING_FIXES, DataCenterDataModule
from .splits import GeoSplit, grid_split

__all__ = ["TRAINING_FIXES", "DataCenterDataModule", "GeoSplit", "grid_split"]
