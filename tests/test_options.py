import argparse
import dataclasses

import pytest
from support.inference import bright_roofs

from torchgeo_datacenters import options as options_module
from torchgeo_datacenters.cli import build_parser
from torchgeo_datacenters.commands.arguments import options_from_args
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.options import (
    PredictorOptions,
    option,
    option_type,
    scan_option_names,
    scan_setting_names,
)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_every_option_has_help_stating_its_default() -> None:
    for field in dataclasses.fields(PredictorOptions):
        shown = field.metadata["option"]
        assert shown.help and "default: " in shown.describe(field.default, option_type(field))
    assert PredictorOptions().min_area == 1000.0
    assert option_default_help("tile_size") == (
        "side of the tiles the model sees, in pixels; larger tiles recompute fewer overlap"
        " pixels (a whole number from 1 to 4096; default: the smallest of 256, 288, 320 whose"
        " tiles hold at most 10% more pixels than the fewest)"
    )
    assert option_default_help("threshold").endswith(
        "(a number above 0 and below 1; default: the checkpoint's)"
    )


def option_default_help(name: str) -> str:
    field = next(f for f in dataclasses.fields(PredictorOptions) if f.name == name)
    return field.metadata["option"].describe(field.default, option_type(field))


def test_a_scan_sets_the_device_and_reads_tiles_in_its_workers() -> None:
    assert scan_option_names() == (
        "tile_size",
        "overlap",
        "batch_size",
        "threshold",
        "min_area",
        "merge_distance",
        "simplify",
        "regularize",
        "split_width",
        "input_scale",
        "resample",
        "precision",
        "screen",
        "tta",
    )


def test_a_scan_records_every_option_that_changes_its_detections() -> None:
    # The batch size changes no detection, and scenes keep traced outlines whatever the
    # outline rules (the merge writes them by the run's): a rerun may choose others.
    unrecorded = ("batch_size", "regularize", "split_width")
    assert scan_setting_names() == tuple(n for n in scan_option_names() if n not in unrecorded)
    # The scan records the predictor's resolved values, which it holds by the same names.
    predictor = Predictor(bright_roofs(), device="cpu", progress=False)
    assert all(hasattr(predictor, name) for name in scan_setting_names())


def test_predictor_takes_the_options_or_keywords() -> None:
    model = bright_roofs()
    chosen = PredictorOptions(device="cpu", tile_size=128, num_workers=0)
    predictor = Predictor(model, chosen, overlap=16, progress=False)
    assert (predictor.tile_size, predictor.overlap, predictor.num_workers) == (128, 16, 0)
    assert predictor.batch_size == 64  # 16 tiles of 256² pixels in tiles of 128²
    assert predictor.min_area == PredictorOptions().min_area
    with pytest.raises(TypeError, match="tile_sizes"):
        Predictor(model, device="cpu", tile_sizes=128)


def test_one_field_adds_the_flag_to_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    extended = dataclasses.make_dataclass(
        "Extended",
        [
            (
                "input_scale",
                float | None,
                option(
                    None, "divide pixel values by this", metavar="FACTOR", default_help="1", above=0
                ),
            )
        ],
        bases=(PredictorOptions,),
        frozen=True,
    )
    monkeypatch.setattr(options_module, "PredictorOptions", extended)
    commands = subcommands(build_parser())
    for name in ("detect", "batch-detect", "scan"):
        (action,) = [a for a in commands[name]._actions if a.dest == "input_scale"]
        assert action.option_strings == ["--input-scale"] and action.type("2") == 2.0
        assert action.help == "divide pixel values by this (a number above 0; default: 1)"
    required = ["--checkpoint", "m.ckpt", "--image", "s.tif", "--output-geojson", "d.geojson"]
    args = commands["detect"].parse_args([*required, "--input-scale", "2", "--tile-size", "64"])
    given = dataclasses.asdict(options_from_args(args))
    assert given == dataclasses.asdict(PredictorOptions(input_scale=2.0, tile_size=64))
    scan_actions = {a.dest for a in commands["scan"]._actions}
    assert "tile_size" in scan_actions and "device" not in scan_actions
