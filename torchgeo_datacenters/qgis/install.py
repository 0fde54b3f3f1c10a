"""Put the QGIS plugin into a QGIS user profile.

QGIS loads Python plugins from ``<profile>/python/plugins/<name>/`` (QGIS User Guide,
"Plugins" / "Python plugins"; profiles live in the user's application-data folder). The
plugin runs ``tgdc`` as a subprocess; the command of the ``tgdc`` that installed it is
recorded beside it in :data:`COMMAND_FILE`, so the plugin finds this environment without
any setting.
"""

import json
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from ..errors import TGDCError
from ..utils import atomic_output

#: Folder name of the plugin in QGIS's plugins folder (a Python module name).
PLUGIN_NAME = "tgdc_processing"

#: File beside the installed plugin holding the ``tgdc`` command (a JSON list of words).
COMMAND_FILE = "tgdc_command.json"


def default_profile_dir() -> Path:
    """The default QGIS 3 user profile of this user on this system.

    Returns:
        ``%APPDATA%/QGIS/QGIS3/profiles/default`` on Windows,
        ``~/Library/Application Support/QGIS/QGIS3/profiles/default`` on macOS, else
        ``$XDG_DATA_HOME/QGIS/QGIS3/profiles/default`` (``~/.local/share`` by default).
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "QGIS" / "QGIS3" / "profiles" / "default"


def tgdc_command() -> list[str]:
    """The command that runs this environment's ``tgdc``.

    Returns:
        The ``tgdc`` script beside this Python (a virtual environment's ``bin/``), or
        this Python running the package's command-line module.
    """
    script = Path(sys.executable).with_name("tgdc.exe" if sys.platform == "win32" else "tgdc")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "torchgeo_datacenters.cli"]


def install_plugin(
    profile_dir: str | os.PathLike[str], *, link: bool = False, overwrite: bool = True
) -> Path:
    """Copy (or link) the plugin into a QGIS profile and record this ``tgdc``.

    Args:
        profile_dir: the QGIS profile folder (it holds ``QGIS/QGIS3.ini``; see
            :func:`default_profile_dir`). Created where missing.
        link: link the plugin folder instead of copying it (for development: edits of
            the package show in QGIS after a restart); the command file is then
            written into the package's plugin folder.
        overwrite: replace an installed copy.

    Returns:
        The installed plugin folder.

    Raises:
        TGDCError: if the profile cannot be written, or the plugin exists and
            *overwrite* is false.
    """
    source = Path(str(resources.files(__package__) / "plugin"))
    plugins = Path(profile_dir) / "python" / "plugins"
    target = plugins / PLUGIN_NAME
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise TGDCError(f"{target}: the plugin is installed already; add --overwrite")
    plugins.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    if link:
        target.symlink_to(source, target_is_directory=True)
    else:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    with atomic_output(target / COMMAND_FILE, overwrite=True) as staged:
        staged.write_text(json.dumps(tgdc_command()) + "\n")
    return target
