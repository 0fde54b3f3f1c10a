import pytest

from torchgeo_datacenters import naip
from torchgeo_datacenters.checkpoint import DATA_SPEC_KEYS, DataSpec, ModelContract, check_threshold
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.model import ProbabilityModel
from torchgeo_datacenters.tasks import DataCenterSegmentation


def test_older_checkpoint_takes_raw_naip() -> None:
    contract = ModelContract.from_hparams(
        {"in_channels": 4, "mean": [0, 0, 0, 0], "std": [255] * 4, "threshold": 0.6}
    )
    assert contract.dtype == naip.DTYPE
    assert contract.value_range == (0.0, 255.0)
    assert contract.gsd == naip.GSD
    assert contract.bands == () and contract.patch_size is None
    assert contract.mean == (0.0,) * 4 and contract.std == (255.0,) * 4


def test_recorded_facts_are_read_back() -> None:
    hparams = {
        "mean": [10.0, 20.0],
        "std": [2.0, 4.0],
        "threshold": 0.3,
        "bands": ["R", "NIR"],
        "dtype": "uint16",
        "value_range": [0, 4095],
        "gsd": 1.0,
        "patch_size": 128,
        "class_names": ["background", "datacenter"],
    }
    contract = ModelContract.from_hparams(hparams)
    assert contract.bands == ("R", "NIR")
    assert (contract.dtype, contract.value_range, contract.gsd) == ("uint16", (0.0, 4095.0), 1.0)
    assert contract.patch_size == 128
    assert contract.class_names == ("background", "datacenter")


@pytest.mark.parametrize("threshold", [0, 0.0, 1, 1.0, -0.1, 1.5, "0.5"])
def test_one_threshold_rule_everywhere(threshold: object) -> None:
    with pytest.raises(TGDCError, match="threshold"):
        check_threshold(threshold)  # type: ignore[arg-type]
    with pytest.raises(TGDCError, match="threshold"):
        ProbabilityModel(lambda x: x[:, 0], [0.0], [1.0], threshold=threshold)  # type: ignore[arg-type]
    if isinstance(threshold, int | float):
        with pytest.raises(TGDCError, match="threshold"):
            DataCenterSegmentation(threshold=threshold)


def test_threshold_inside_the_open_interval_is_kept() -> None:
    assert check_threshold(0.5) == 0.5
    assert DataCenterSegmentation(threshold=0.999).hparams["threshold"] == 0.999


def test_data_spec_round_trips_through_hyperparameters() -> None:
    spec = DataSpec(
        bands=("R", "NIR"),
        dtype="uint16",
        value_range=(0.0, 4095.0),
        gsd=1.0,
        mean=(10.0, 20.0),
        std=(2.0, 4.0),
        patch_size=128,
    )
    hparams = spec.as_hparams()
    assert tuple(hparams) == DATA_SPEC_KEYS
    assert DataSpec.from_hparams(hparams) == spec
    contract = ModelContract.from_hparams(hparams | {"threshold": 0.4})
    assert contract.data == spec and contract.threshold == 0.4


def test_older_checkpoint_reads_as_a_raw_naip_spec() -> None:
    spec = DataSpec.from_hparams({"mean": [0, 0, 0, 0], "std": [255] * 4})
    assert (spec.dtype, spec.value_range, spec.gsd) == (naip.DTYPE, (0.0, 255.0), naip.GSD)
    assert spec.bands == () and spec.patch_size is None
