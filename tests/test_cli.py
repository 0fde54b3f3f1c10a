import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.errors import NodataShadowWarning
from rasterio.transform import from_origin

from torchgeo_datacenters.cli import COMMANDS, RUNTIME_ENVIRONMENT, build_parser, main
from torchgeo_datacenters.commands import describe


def test_runtime_environment_is_set_before_torch_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert RUNTIME_ENVIRONMENT == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    # Building the parser loads no torch, so OpenMP reads the setting when it loads.
    code = (
        "import sys; from torchgeo_datacenters.cli import build_parser; build_parser();"
        " print('torch' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr


def test_user_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with pytest.raises(SystemExit):
        main(["--version"])
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize("module", COMMANDS)
def test_every_command_prints_its_help(module: str, capsys: pytest.CaptureFixture) -> None:
    command = module.replace("_", "-")
    # argparse formats help with '%': a literal one in an option's text must not break it.
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: tgdc {command}" in capsys.readouterr().out


def _misspelt(flag: str) -> str:
    """The flag with two letters of its name swapped, as a quick typist writes it."""
    name = flag[2:]
    middle = len(name) // 2
    return "--" + name[: middle - 1] + name[middle] + name[middle - 1] + name[middle + 1 :]


@pytest.mark.parametrize("module", COMMANDS)
def test_a_misspelt_flag_gets_the_commands_usage_and_a_suggestion(
    module: str, capsys: pytest.CaptureFixture
) -> None:
    command = module.replace("_", "-")
    subparser = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    # A command with subcommands of its own (`labels merge`): its first subcommand.
    if subparser._subparsers is not None:
        name, subparser = next(iter(subparser._subparsers._group_actions[0].choices.items()))  # type: ignore[attr-defined]
        command = f"{command} {name}"
    flags = [
        option
        for action in subparser._actions
        for option in action.option_strings
        if option.startswith("--") and len(option) > 5 and option != "--help"
    ]
    flag = flags[0]
    typo = _misspelt(flag)
    assert typo != flag
    with pytest.raises(SystemExit) as exit_info:
        main([*command.split(), typo, "x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: tgdc {command}" in err
    assert f"tgdc {command}: error: unrecognized arguments: {typo}; did you mean {flag}?" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Two typos in one line: each suggestion names the flag it is for.
        (
            ["change", "--detections", "a", "--outptu", "b", "--overwirte"],
            "tgdc change: error: unrecognized arguments: --outptu --overwirte; did you mean"
            " --output (for --outptu), --overwrite (for --overwirte)?",
        ),
        # A value joined by "=", as scripts write it; underscores for dashes.
        (
            ["compare", "--detections", "a", "--inventroy=b", "--output-dir", "c"],
            "tgdc compare: error: unrecognized arguments: --inventroy; did you mean --inventory?",
        ),
        (
            ["detect", "--image", "a", "--checkpoint", "b", "--tile_size", "64"],
            "tgdc detect: error: unrecognized arguments: --tile_size; did you mean --tile-size?",
        ),
        (
            ["labels", "merge", "a", "--ouput", "b"],
            "tgdc labels merge: error: unrecognized arguments: --ouput; did you mean --output?",
        ),
        # A prefix of two flags, or of one: not a flag (argparse's abbreviations are off).
        (
            ["compare", "--detections", "a", "--inventory", "b", "--output", "c"],
            "tgdc compare: error: unrecognized arguments: --output; did you mean --output-dir?",
        ),
        (
            ["detect", "--image", "a", "--checkpoint", "b", "--output-geo", "c"],
            "tgdc detect: error: unrecognized arguments: --output-geo; did you mean"
            " --output-geojson?",
        ),
        (
            ["labels", "merge", "a", "--out=b"],
            "tgdc labels merge: error: unrecognized arguments: --out; did you mean --output?",
        ),
    ],
)
def test_misspelt_flags_as_other_tools_users_type_them(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    command = " ".join(argv[:2]) if argv[0] == "labels" else argv[0]
    assert f"usage: tgdc {command}" in err
    assert err.splitlines()[-1] == expected


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """*parser* and every subcommand's parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                yield from _parsers(subparser)


def test_no_parser_takes_an_abbreviated_flag(capsys: pytest.CaptureFixture) -> None:
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > len(COMMANDS)
    assert [p.prog for p in parsers if p.allow_abbrev] == []
    # The top-level parser too: --deb is not --debug.
    with pytest.raises(SystemExit) as exit_info:
        main(["--deb", "describe", "model.ckpt"])
    assert exit_info.value.code == 2
    assert (
        "tgdc: error: unrecognized arguments: --deb; did you mean --debug?"
        in capsys.readouterr().err
    )


def test_a_misspelt_command_or_choice_gets_a_suggestion(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["detcet"])
    assert "did you mean 'detect'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect", "--precision", "fp23"])
    err = capsys.readouterr().err
    assert "usage: tgdc detect" in err
    assert "argument --precision: invalid choice: 'fp23'" in err
    assert "did you mean 'fp32'?" in err
    # Nothing close: argparse's own message alone.
    with pytest.raises(SystemExit):
        main(["detect", "--zzzzzz"])
    assert "unrecognized arguments: --zzzzzz\n" in capsys.readouterr().err


def test_library_warnings_the_user_cannot_act_on_are_not_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    # A scene as GDAL writes it with both an alpha band and a nodata value (gdal_translate
    # -a_nodata 0 of an RGBA file): rasterio warns that nodata shadows the alpha band.
    scene = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "width": 16, "height": 16, "count": 4, "dtype": "uint8"}
    with rasterio.open(
        scene, "w", **profile, crs="EPSG:4326", transform=from_origin(-77.5, 39.0, 1e-4, 1e-4),
        nodata=0, photometric="RGB", alpha="YES",
    ) as dst:  # fmt: skip
        dst.write(np.full((4, 16, 16), 100, np.uint8))
    with rasterio.open(scene) as src, pytest.warns(NodataShadowWarning):
        src.dataset_mask()
    sites = tmp_path / "sites.geojson"
    box = shapely.box(-77.4995, 38.9995, -77.4990, 38.9990)
    gpd.GeoDataFrame({"score": [0.9]}, geometry=[box], crs=4326).to_file(sites)
    argv = ["compare", "--detections", str(sites), "--inventory", str(sites)]
    assert main([*argv, "--footprint", str(scene), "--output-dir", str(tmp_path / "o")]) == 0
    err = capfd.readouterr().err
    assert "shadow" not in err
    assert "warning" not in err


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    # `tgdc describe CKPT | head -1`: the reader is gone before the output is written.
    from support.inference import save_checkpoint

    checkpoint = save_checkpoint(tmp_path / "model.ckpt", logit=None)
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "torchgeo_datacenters.cli", "describe", str(checkpoint)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")


#: Each stop, with the line tgdc ends with.
STOPS = pytest.mark.parametrize(
    ("signum", "line"),
    [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGINT, "interrupted")],
)


@STOPS
@pytest.mark.parametrize(
    "then",
    [
        AttributeError("module 'numpy._core' has no attribute '_multiarray_umath'"),
        KeyboardInterrupt(),
        SystemExit(1),
    ],
    ids=["an import error", "a library's own KeyboardInterrupt", "a library's exit"],
)
def test_what_a_stop_breaks_is_reported_as_the_stop(
    signum: int,
    line: str,
    then: BaseException,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    # A stop that lands in an import leaves the module half done, and the next import of it
    # fails with an error of its own: the user asked the run to stop, and it did. Ray's
    # ray.get raises a plain KeyboardInterrupt for whichever signal arrived: a SIGTERM
    # during a scan was reported as Ctrl-C (exit 130). Lightning ends training on Ctrl-C
    # with sys.exit(1): tgdc demo exited 1 without a word of its own.
    def run(_args: argparse.Namespace) -> int:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(10)  # the handler raises here
        except KeyboardInterrupt:
            pass  # taken by the import machinery, or by Ray, say
        raise then

    monkeypatch.setattr(describe, "run", run)
    assert main(["describe", "model.ckpt"]) == 128 + signum
    assert capsys.readouterr().err == f"tgdc describe: {line}\n"
    # Without a stop, the same error is a fault of tgdc's, not hidden.
    monkeypatch.setattr(describe, "run", lambda _args: {}["missing"])
    with pytest.raises(KeyError):
        main(["describe", "model.ckpt"])


@STOPS
def test_a_stop_python_drops_is_delivered_again(
    signum: int, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # A stop landing in a finaliser (or in os.fork's callbacks, as a DataLoader starts its
    # workers) is dropped by Python, with a traceback: the run went on and ended with 0.
    class Finaliser:
        def __del__(self) -> None:
            os.kill(os.getpid(), signum)
            time.sleep(0.01)  # the handler raises here, and Python drops it

    def run(_args: argparse.Namespace) -> int:
        Finaliser()
        time.sleep(10)  # the stop comes again here
        return 0

    monkeypatch.setattr(describe, "run", run)
    assert main(["describe", "model.ckpt"]) == 128 + signum
    assert capsys.readouterr().err == f"tgdc describe: {line}\n"
