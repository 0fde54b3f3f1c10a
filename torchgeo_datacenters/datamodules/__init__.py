"""Lightning data modules and geographic splits."""

from ..errors import install_excepthook
from .datacenters import TRAINING_FIXES, DataCenterDataModule
from .splits import GeoSplit, ValidationSplit, grid_split

# `torchgeo fit` with a configuration this package refuses: one line, no traceback.
install_excepthook()

__all__ = ["TRAINING_FIXES", "DataCenterDataModule", "GeoSplit", "ValidationSplit", "grid_split"]
