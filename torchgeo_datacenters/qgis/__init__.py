"""QGIS: the Processing plugin shipped with the package, and its installation.

``plugin/`` is a QGIS plugin folder (``metadata.txt``, ``classFactory``): a Processing
provider whose algorithms run ``tgdc`` in its own environment, so QGIS's Python never
imports torch. :func:`~.install.install_plugin` (``tgdc qgis install``) copies it into a
QGIS profile and records which ``tgdc`` installed it. Nothing here imports QGIS or torch.
"""

from .install import PLUGIN_NAME, default_profile_dir, install_plugin, tgdc_command

__all__ = ["PLUGIN_NAME", "default_profile_dir", "install_plugin", "tgdc_command"]
