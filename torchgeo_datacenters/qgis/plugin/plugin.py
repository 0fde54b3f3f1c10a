"""The plugin object QGIS loads: it registers the Processing provider."""

from qgis.core import QgsApplication

from .provider import DataCentersProvider


class DataCentersPlugin:
    """Adds :class:`~.provider.DataCentersProvider` to QGIS's Processing registry."""

    def __init__(self) -> None:
        self.provider: DataCentersProvider | None = None

    def initProcessing(self) -> None:
        """Register the provider (QGIS calls this also where there is no GUI)."""
        if self.provider is not None:
            return
        self.provider = DataCentersProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Register the provider when QGIS starts with its GUI."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider when the plugin is disabled."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
