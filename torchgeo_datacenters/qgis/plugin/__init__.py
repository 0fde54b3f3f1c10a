"""The QGIS plugin of torchgeo-datacenters: a Processing provider that runs ``tgdc``.

QGIS imports this package from its plugins folder (``tgdc qgis install`` puts it there)
and calls :func:`classFactory`. Nothing here imports torch: the algorithms run ``tgdc``
in its own environment (:mod:`.runner`).
"""


def classFactory(iface):
    """Create the plugin (QGIS's plugin entry point).

    Args:
        iface: QGIS's ``QgisInterface`` (unused: the plugin only adds a provider).

    Returns:
        The plugin.
    """
    from .plugin import DataCentersPlugin

    return DataCentersPlugin()
