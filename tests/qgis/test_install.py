"""`tgdc qgis install`: the plugin folder in a QGIS profile, with this environment's tgdc."""

import json
import subprocess
from pathlib import Path

import pytest

from torchgeo_datacenters import __version__
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.qgis import PLUGIN_NAME, default_profile_dir, install_plugin
from torchgeo_datacenters.qgis.install import COMMAND_FILE


def test_install_copies_the_plugin_and_records_a_tgdc_that_runs(tmp_path: Path) -> None:
    target = install_plugin(tmp_path / "profile")
    assert target == tmp_path / "profile" / "python" / "plugins" / PLUGIN_NAME
    assert not target.is_symlink()
    for name in ("metadata.txt", "__init__.py", "provider.py", "algorithms.py", "runner.py"):
        assert (target / name).is_file()
    assert "hasProcessingProvider=yes" in (target / "metadata.txt").read_text()
    command = json.loads((target / COMMAND_FILE).read_text())
    ran = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert ran.stdout.strip() == f"tgdc {__version__}"
    # A second install replaces the first; refusing to replace says how.
    (target / "stale.py").write_text("")
    install_plugin(tmp_path / "profile")
    assert not (target / "stale.py").exists()
    with pytest.raises(TGDCError, match="add --overwrite"):
        install_plugin(tmp_path / "profile", overwrite=False)


def test_link_points_at_the_package_folder(tmp_path: Path) -> None:
    target = install_plugin(tmp_path / "profile", link=True)
    assert target.is_symlink()
    assert (target / "runner.py").resolve().parent.name == "plugin"
    (target / COMMAND_FILE).unlink()  # written into the package's folder: not left there


def test_default_profile_follows_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_profile_dir() == tmp_path / "QGIS" / "QGIS3" / "profiles" / "default"
