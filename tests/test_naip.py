"""The NAIP facts agree with real NAIP files and the seed labels, and are the only copy."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from support.data import shared_data

from torchgeo_datacenters import naip
from torchgeo_datacenters.datamodules.datacenters import DataCenterDataModule
from torchgeo_datacenters.datamodules.normalization import default_value_range
from torchgeo_datacenters.datasets import NAIP_BANDS, NAIP_GSD, NEGATIVE_CLASSES, POSITIVE_CLASSES
from torchgeo_datacenters.models.datacenter import DATACENTER, HARD_NEGATIVE_CLASS_NAMES
from torchgeo_datacenters.stac import NAIP_RESOLUTION
from torchgeo_datacenters.stac.mosaic import BANDS as MOSAIC_BANDS
from torchgeo_datacenters.synthetic import BANDS as SYNTHETIC_BANDS
from torchgeo_datacenters.synthetic import BUILDINGS, CLASSES


def test_native_naip_file_has_the_bands_dtype_range_and_pixel_size() -> None:
    path = shared_data("naip", "m_4208701_ne_16_060_20200902.tif")
    with rasterio.open(path) as src:
        assert src.count == len(naip.BANDS)
        assert set(src.dtypes) == {naip.DTYPE}
        assert src.res == pytest.approx((naip.GSD, naip.GSD), abs=0.001)
        info = np.iinfo(src.dtypes[0])
    assert (info.min, info.max) == naip.VALUE_RANGE


def test_seed_labels_hold_exactly_the_classes() -> None:
    labels = gpd.read_file(shared_data("labels", "seed_datacenters.geojson"))
    negatives = set(labels.loc[~labels["label"].astype(bool), "class"])
    assert negatives == set(naip.HARD_NEGATIVE_CLASSES)
    positives = labels.loc[labels["label"].astype(bool), "class"].value_counts()
    assert positives.idxmax() == naip.DATACENTER_CLASS  # one is misspelt "datacemter"


def test_every_module_uses_the_one_definition() -> None:
    assert NAIP_BANDS is MOSAIC_BANDS is SYNTHETIC_BANDS is naip.BANDS
    assert NAIP_GSD is NAIP_RESOLUTION is naip.GSD
    assert POSITIVE_CLASSES == (naip.DATACENTER_CLASS,) and DATACENTER is naip.DATACENTER_CLASS
    assert NEGATIVE_CLASSES is naip.HARD_NEGATIVE_CLASSES
    assert ("background", DATACENTER, *naip.HARD_NEGATIVE_CLASSES) == HARD_NEGATIVE_CLASS_NAMES
    assert (naip.DATACENTER_CLASS, *naip.HARD_NEGATIVE_CLASSES) == CLASSES
    assert [spec.name for spec in BUILDINGS.values() if spec.label] == [naip.DATACENTER_CLASS]


def test_datamodule_defaults_follow_the_facts(tmp_path) -> None:
    module = DataCenterDataModule(
        paths=str(tmp_path), label_path=str(tmp_path / "x.geojson"), multiclass=True
    )
    assert module.class_names == ["background", naip.DATACENTER_CLASS, *naip.HARD_NEGATIVE_CLASSES]
    assert module.bands == list(naip.BANDS) and module.gsd == naip.GSD
    # Normalisation comes from the imagery; 8-bit NAIP's value range is the type's.
    assert module.std is None and module.mean is None
    assert default_value_range(naip.DTYPE, None) == [float(v) for v in naip.VALUE_RANGE]


def test_checkpoints_without_imagery_facts_default_to_naip() -> None:
    from torchgeo_datacenters.inference import model

    assert model.DEFAULT_DTYPE == naip.DTYPE and model.DEFAULT_GSD == naip.GSD
    assert model.DEFAULT_VALUE_RANGE == naip.VALUE_RANGE
