import os
import subprocess
import sys

import pytest

from torchgeo_datacenters.cli import COMMANDS, RUNTIME_ENVIRONMENT, main


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
