"""`tgdc qgis describe`: the options the QGIS plugin builds its parameters from."""

import json

import pytest

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.options import PRECISIONS, PredictorOptions


def test_describe_gives_each_option_with_tgdcs_defaults(capsys: pytest.CaptureFixture) -> None:
    assert main(["qgis", "describe"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert set(described) == {"detect", "compare", "change"}
    detect = {option["flag"]: option for option in described["detect"]}
    assert detect["--image"]["required"] and detect["--image"]["kind"] == "path"
    # Predictor options: the defaults of PredictorOptions, which argparse does not hold.
    assert detect["--min-area"]["kind"] == "float"
    assert detect["--min-area"]["default"] == PredictorOptions().min_area
    assert detect["--threshold"]["default"] is None
    assert detect["--precision"]["choices"] == list(PRECISIONS)
    assert detect["--precision"]["default"] == "auto"
    assert detect["--overwrite"]["kind"] == "switch"
    assert "%%" not in detect["--min-area"]["help"]
    compare = {option["flag"]: option for option in described["compare"]}
    assert compare["--footprint"]["many"] == "list"
    assert compare["--inventory"]["many"] == "append"
    change = {option["flag"]: option for option in described["change"]}
    assert change["--detections"]["many"] == "list" and change["--detections"]["required"]
