"""Debian's QGIS, headless, with the plugin installed into a throw-away profile.

QGIS's Python is the system's (``/usr/bin/python3`` with ``python3-qgis``), not the
project's environment: the tests run ``qgis_process`` and scripts of QGIS's Python as
subprocesses, with ``QT_QPA_PLATFORM=offscreen`` and a temporary home, data and runtime
folder, so no display and no user profile are touched.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.qgis import PLUGIN_NAME

#: Python with QGIS's bindings (Debian: python3-qgis).
QGIS_PYTHON = "/usr/bin/python3"

#: Script of QGIS's Python that runs an algorithm in-process (see its docstring).
DRIVER = Path(__file__).parents[1] / "qgis" / "driver.py"


def qgis_process_binary() -> str | None:
    """``qgis_process``: Debian's binary itself where present.

    Debian 12's ``qgis_process`` wrapper passes ``--noversioncheck``, which the binary
    refuses ("Command --noversioncheck not known!"); ``qgis_process.bin`` is the binary.

    Returns:
        Its path, or None where QGIS is not installed.
    """
    return shutil.which("qgis_process.bin") or shutil.which("qgis_process")


def qgis_missing() -> str | None:
    """Why QGIS cannot be used here (None: it can).

    Returns:
        The reason, naming the Debian packages to install.
    """
    if qgis_process_binary() is None:
        return "qgis_process not found (apt-get install qgis qgis-providers)"
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"{QGIS_PYTHON} cannot import qgis.core (apt-get install python3-qgis)"
    return None


@dataclass
class HeadlessQgis:
    """QGIS with the plugin installed and enabled in a temporary profile."""

    home: Path

    @property
    def environment(self) -> dict[str, str]:
        """The environment QGIS runs in: offscreen, temporary home and folders."""
        runtime = self.home / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        # QGIS's embedded Python takes its prefix from the first python3 on PATH: the
        # project environment's would hide the system's packages (no qgis module).
        venv_bin = str(Path(sys.executable).parent)
        path = os.pathsep.join(
            entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry != venv_bin
        )
        inherited = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
        return {
            **inherited,
            "PATH": path,
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_RUNTIME_DIR": str(runtime),
            "QT_QPA_PLATFORM": "offscreen",
        }

    @property
    def plugins_dir(self) -> Path:
        """The profile's plugins folder."""
        return self.home / ".local/share/QGIS/QGIS3/profiles/default/python/plugins"

    def process(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``qgis_process`` with *arguments*.

        Returns:
            The finished process (stdout and stderr as text).
        """
        binary = qgis_process_binary()
        assert binary is not None
        return subprocess.run(
            [binary, *arguments],
            capture_output=True,
            text=True,
            env=self.environment,
            timeout=600,
            check=False,
        )

    def drive(
        self, mode: str, parameters: dict[str, object], algorithm: str = "tgdc:detect"
    ) -> dict:
        """Run an algorithm in QGIS's Python through :data:`DRIVER`.

        Args:
            mode: ``cancel`` (press Cancel at the first progress) or ``load`` (run and
                load the results into a project, as the toolbox does).
            parameters: the algorithm's parameters.
            algorithm: the algorithm's id.

        Returns:
            What the driver reports (JSON).
        """
        done = subprocess.run(
            [
                QGIS_PYTHON,
                str(DRIVER),
                str(self.plugins_dir),
                algorithm,
                mode,
                json.dumps(parameters),
            ],
            capture_output=True,
            text=True,
            env=self.environment,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])


def headless_qgis(home: Path) -> HeadlessQgis:
    """Install the plugin with ``tgdc qgis install`` into *home*'s default QGIS profile.

    ``XDG_DATA_HOME`` points into *home*, so the default profile folder of ``tgdc qgis
    install`` (no ``--profile-dir``) must be the one QGIS reads.

    Args:
        home: an empty folder, the home of QGIS's processes.

    Returns:
        The QGIS to run, with the plugin enabled.
    """
    reason = qgis_missing()
    if reason is not None:
        pytest.skip(reason)
    qgis = HeadlessQgis(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", qgis.environment["XDG_DATA_HOME"])
        assert main(["qgis", "install"]) == 0
    assert (qgis.plugins_dir / PLUGIN_NAME / "metadata.txt").is_file()
    enabled = qgis.process("plugins", "enable", PLUGIN_NAME)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return qgis
