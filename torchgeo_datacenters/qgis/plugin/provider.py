"""The Processing provider: its settings, its algorithms, and its output formats."""

from processing.core.ProcessingConfig import ProcessingConfig, Setting
from qgis.core import QgsProcessingProvider

from .algorithms import ChangeAlgorithm, CompareAlgorithm, DetectAlgorithm
from .runner import TgdcError, describe
from .settings import EXECUTABLE_SETTING, PROJECT_SETTING, configured_tgdc


class DataCentersProvider(QgsProcessingProvider):
    """Data centers (tgdc): detect, compare with inventories, change between years."""

    def id(self) -> str:
        """Return the provider's id (the prefix of its algorithms' ids)."""
        return "tgdc"

    def name(self) -> str:
        """Return the name shown in the Processing toolbox."""
        return "Data centers (tgdc)"

    def longName(self) -> str:
        """Return the name shown with the version."""
        return "Data centers (torchgeo-datacenters' tgdc)"

    def load(self) -> bool:
        """Add the provider's settings to Processing's options, then its algorithms.

        Returns:
            True.
        """
        ProcessingConfig.addSetting(
            Setting(
                self.name(),
                EXECUTABLE_SETTING,
                "tgdc executable (empty: the tgdc that installed the plugin, else tgdc on PATH)",
                "",
                valuetype=Setting.FILE,
            )
        )
        ProcessingConfig.addSetting(
            Setting(
                self.name(),
                PROJECT_SETTING,
                "torchgeo-datacenters project folder, run with `uv run --project` (empty: none)",
                "",
                valuetype=Setting.FOLDER,
            )
        )
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Remove the provider's settings."""
        ProcessingConfig.removeSetting(EXECUTABLE_SETTING)
        ProcessingConfig.removeSetting(PROJECT_SETTING)

    def loadAlgorithms(self) -> None:
        """Ask ``tgdc`` for its options and add an algorithm per command.

        Where ``tgdc`` cannot be found or run, the algorithms are added with their
        required parameters only, and running one reports why.
        """
        try:
            options, problem = describe(configured_tgdc()), None
        except TgdcError as error:
            options, problem = {}, str(error)
        for algorithm in (DetectAlgorithm, CompareAlgorithm, ChangeAlgorithm):
            self.addAlgorithm(algorithm(options, problem))

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:
        """Return the format of temporary vector outputs: GeoPackage (tgdc styles it)."""
        return "gpkg"

    def supportedOutputVectorLayerExtensions(self) -> list:
        """Return the vector formats the algorithms write: GeoPackage."""
        return ["gpkg"]

    def defaultRasterFileExtension(self) -> str:
        """Return the format of temporary raster outputs: GeoTIFF (a COG)."""
        return "tif"

    def supportedOutputRasterLayerExtensions(self) -> list:
        """Return the raster formats the algorithms write: GeoTIFF (a COG)."""
        return ["tif"]
