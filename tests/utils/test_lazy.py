"""Tests of :mod:`torchgeo_datacenters.utils.lazy`."""

import subprocess
import sys
import textwrap

import pytest

import torchgeo_datacenters.detections as detections
from torchgeo_datacenters.detections import vectorize

#: In a fresh interpreter: the detections package and its vectoriser cost no pandas until
#: a name from a module that tables detections is looked up.
FRESH = textwrap.dedent(
    """
    import sys
    import torchgeo_datacenters.detections as detections
    from torchgeo_datacenters.detections import Vectorizer, threshold_band
    print("pandas" in sys.modules, flush=True)
    from torchgeo_datacenters.detections import write_csv
    print("pandas" in sys.modules, write_csv.__module__)
    """
)


def test_every_exported_name_resolves() -> None:
    # No public name was lost when the package became lazy.
    values = {name: getattr(detections, name) for name in detections.__all__}
    assert set(detections.__all__) <= set(dir(detections))
    assert values["Vectorizer"] is vectorize.Vectorizer
    assert values["MASK_NODATA"] == vectorize.MASK_NODATA == 255
    assert values["write_csv"].__module__ == "torchgeo_datacenters.detections.writers"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Vectoriser'"):
        detections.Vectoriser  # noqa: B018
    with pytest.raises(ImportError):
        exec("from torchgeo_datacenters.detections import Vectoriser")


def test_submodules_load_only_when_their_names_are_used() -> None:
    fresh = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == [
        "False",
        "True",
        "torchgeo_datacenters.detections.writers",
    ]
