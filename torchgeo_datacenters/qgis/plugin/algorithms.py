"""The Processing algorithms: Detect data centers, Compare with an inventory, Change.

Each algorithm turns its parameters into a ``tgdc`` command line and runs it
(:func:`~.runner.run_tgdc`). Optional parameters follow ``tgdc``'s options as
``tgdc qgis describe`` reports them (type, choices, default, help), so an option
``tgdc`` lacks (``--regularize`` in older versions) is not offered and the defaults
shown are ``tgdc``'s own.
"""

import os
import uuid

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputFolder,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
    QgsProviderRegistry,
)

from .runner import TgdcError, run_tgdc
from .settings import configured_tgdc

#: Files ``tgdc compare`` writes into its output folder that are loaded as layers.
COMPARE_LAYERS = (
    ("matched.geojson", "Matched sites"),
    ("candidates.geojson", "Candidates (in no inventory)"),
    ("missed.geojson", "Missed inventory sites"),
)


class DefaultStyle(QgsProcessingLayerPostProcessorInterface):
    """Apply a layer's default style (a GeoPackage's ``layer_styles``) when loaded.

    Processing loads result layers without their default style; ``tgdc``'s GeoPackage
    carries one (outlines coloured by score, labels with the area).
    """

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: D102
        message, loaded = layer.loadDefaultStyle()
        if not loaded:
            feedback.pushWarning(f"{layer.source()}: no style loaded ({message})")
        layer.triggerRepaint()


#: The one post-processor (Processing keeps no reference to it: this module does).
DEFAULT_STYLE = DefaultStyle()


def layer_file(layer, name: str) -> str:
    """The file a raster or vector layer reads.

    Args:
        layer: the layer (None: the parameter named no layer).
        name: the parameter's description, for the error.

    Returns:
        The file's path.

    Raises:
        QgsProcessingException: if the layer is missing or is not a local file (a web
            service, a database table, a memory layer).
    """
    if layer is None:
        raise QgsProcessingException(f"{name}: no layer given")
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or ""
    if layer.providerType() not in ("gdal", "ogr") or not os.path.isfile(path):
        raise QgsProcessingException(
            f"{layer.name()}: {name} must be a file (GeoTIFF, GeoPackage, GeoJSON);"
            " save the layer to a file first (right-click > Export > Save As...)"
        )
    return path


class TgdcAlgorithm(QgsProcessingAlgorithm):
    """An algorithm that runs one ``tgdc`` command."""

    #: The ``tgdc`` subcommand.
    COMMAND = ""

    #: The algorithm's name in the toolbox.
    DISPLAY_NAME = ""

    #: What the algorithm does, first line of its help.
    DESCRIPTION = ""

    #: Optional parameters taken from ``tgdc``'s options: (parameter name, flag,
    #: label, advanced). Those whose flag this ``tgdc`` lacks are left out.
    OPTIONS: tuple = ()

    def __init__(self, options: dict, problem: str | None = None) -> None:
        """Initialise an algorithm from ``tgdc qgis describe``'s answer.

        Args:
            options: command name to its options (empty where ``tgdc`` was not found).
            problem: why ``tgdc`` could not be asked (None: it answered).
        """
        super().__init__()
        self.options, self.problem = options, problem

    def createInstance(self):  # noqa: D102
        return type(self)(self.options, self.problem)

    def name(self) -> str:  # noqa: D102
        return self.COMMAND

    def displayName(self) -> str:  # noqa: D102
        return self.DISPLAY_NAME

    def group(self) -> str:  # noqa: D102
        return ""

    def groupId(self) -> str:  # noqa: D102
        return ""

    def option(self, flag: str):
        """``tgdc``'s description of one of its command's options.

        Args:
            flag: the option's flag, e.g. ``--min-area``.

        Returns:
            The option's entry, or None if this ``tgdc`` lacks it.
        """
        for option in self.options.get(self.COMMAND, ()):
            if option["flag"] == flag:
                return option
        return None

    def add_layer_output(self, name: str, label: str) -> None:
        """Add a polygon GeoPackage output (files only: tgdc writes it).

        Args:
            name: the parameter's name.
            label: its label.
        """
        output = QgsProcessingParameterVectorDestination(
            name, label, QgsProcessing.TypeVectorPolygon
        )
        output.setSupportsNonFileBasedOutput(False)
        self.addParameter(output)

    def add_report(self) -> None:
        """Add the optional HTML map report (``--output-report``) as ``REPORT``."""
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "REPORT",
                "HTML map report",
                "HTML files (*.html)",
                optional=True,
                createByDefault=False,
            )
        )

    def report_path(self, parameters: dict, context):
        """The HTML report asked for (``REPORT``), or None.

        Args:
            parameters: the algorithm's parameter values.
            context: the processing context.

        Returns:
            Its path, or None where no report is asked for.
        """
        return self.parameterAsFileOutput(parameters, "REPORT", context) or None

    def add_options(self) -> None:
        """Add a parameter for every entry of :attr:`OPTIONS` this ``tgdc`` has."""
        for name, flag, label, advanced in self.OPTIONS:
            option = self.option(flag)
            if option is None:
                continue
            default, choices = option["default"], option["choices"]
            if option["kind"] == "switch":
                parameter = QgsProcessingParameterBoolean(name, label, bool(default))
            elif choices:
                index = choices.index(default) if default in choices else 0
                parameter = QgsProcessingParameterEnum(
                    name, label, options=choices, defaultValue=index
                )
            elif option["kind"] in ("float", "int"):
                number = (
                    QgsProcessingParameterNumber.Double
                    if option["kind"] == "float"
                    else QgsProcessingParameterNumber.Integer
                )
                parameter = QgsProcessingParameterNumber(
                    name, label, number, defaultValue=default, optional=default is None
                )
            else:
                parameter = QgsProcessingParameterString(
                    name, label, defaultValue=default, optional=True
                )
            parameter.setHelp(option["help"])
            if advanced:
                parameter.setFlags(
                    parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced
                )
            self.addParameter(parameter)

    def option_arguments(self, parameters: dict, context) -> list:
        """The flags of the :attr:`OPTIONS` parameters given.

        Args:
            parameters: the algorithm's parameter values.
            context: the processing context.

        Returns:
            ``tgdc`` arguments; a parameter left empty gives none (tgdc's default).
        """
        arguments = []
        for name, flag, _label, _advanced in self.OPTIONS:
            option = self.option(flag)
            if option is None or parameters.get(name) is None:
                continue
            if option["kind"] == "switch":
                if self.parameterAsBoolean(parameters, name, context):
                    arguments.append(flag)
            elif option["choices"]:
                choice = option["choices"][self.parameterAsEnum(parameters, name, context)]
                arguments += [flag, choice]
            elif option["kind"] == "float":
                arguments += [flag, repr(self.parameterAsDouble(parameters, name, context))]
            elif option["kind"] == "int":
                arguments += [flag, str(self.parameterAsInt(parameters, name, context))]
            else:
                arguments += [flag, self.parameterAsString(parameters, name, context)]
        return arguments

    def run_command(self, arguments: list, parameters: dict, context, feedback) -> list:
        """Run ``tgdc`` with *arguments* and the options given, failures as errors.

        Outputs are replaced (``--overwrite``): Processing asks before it names an
        existing file.

        Args:
            arguments: the subcommand's inputs and outputs (the subcommand is added).
            parameters: the algorithm's parameter values (for :attr:`OPTIONS`).
            context: the processing context.
            feedback: the algorithm's feedback.

        Returns:
            The lines ``tgdc`` printed.

        Raises:
            QgsProcessingException: ``tgdc``'s one-line error, why ``tgdc`` could not be
                run, or that the run was cancelled.
        """
        arguments = [
            self.COMMAND,
            *arguments,
            *self.option_arguments(parameters, context),
            "--overwrite",
        ]
        try:
            return run_tgdc(configured_tgdc(), arguments, feedback)
        except TgdcError as error:  # Cancelled too: "cancelled; no output was written"
            raise QgsProcessingException(str(error)) from error

    def shortHelpString(self) -> str:  # noqa: D102
        lines = [self.DESCRIPTION]
        if self.problem is not None:
            lines.append(f"<b>tgdc not available:</b> {self.problem}")
        for _name, flag, label, _advanced in self.OPTIONS:
            option = self.option(flag)
            if option is not None:
                lines.append(f"<b>{label}</b> ({flag}): {option['help']}")
        return "<br>".join(lines)


class DetectAlgorithm(TgdcAlgorithm):
    """Detect data centers in a raster with a trained model (``tgdc detect``)."""

    COMMAND = "detect"
    DISPLAY_NAME = "Detect data centers"
    DESCRIPTION = (
        "Finds data centers in a 4-band NAIP-like GeoTIFF (R, G, B, NIR at 0.6 m) with a"
        " trained checkpoint (.ckpt) or an ONNX model from `tgdc export`, and returns each"
        " as a polygon with its area (m²), centroid and score, in a GeoPackage styled by"
        " score; optionally the mask raster (1: data center)."
    )
    OPTIONS = (
        ("THRESHOLD", "--threshold", "Probability threshold (empty: the model's)", False),
        ("MIN_AREA", "--min-area", "Minimum area (m²)", False),
        ("REGULARIZE", "--regularize", "Regularise outlines", False),
        ("PRECISION", "--precision", "Numeric precision", True),
        ("DEVICE", "--device", "Device", True),
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterRasterLayer("INPUT", "Imagery (GeoTIFF, R G B NIR)")
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "MODEL",
                "Model: checkpoint (.ckpt) or ONNX (.onnx)",
                fileFilter="Models (*.ckpt *.onnx);;All files (*)",
            )
        )
        self.add_options()
        self.add_layer_output("OUTPUT", "Data centers")
        mask = QgsProcessingParameterRasterDestination(
            "MASK", "Mask (1: data center)", optional=True, createByDefault=False
        )
        mask.setSupportsNonFileBasedOutput(False)
        self.addParameter(mask)

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # noqa: D102
        image = layer_file(self.parameterAsRasterLayer(parameters, "INPUT", context), "imagery")
        model = self.parameterAsFile(parameters, "MODEL", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        if not output.lower().endswith(".gpkg"):
            raise QgsProcessingException(
                f"{output}: save the data centers to a GeoPackage file (.gpkg)"
            )
        mask = self.parameterAsOutputLayer(parameters, "MASK", context)
        # tgdc detect always writes GeoJSON; it goes to Processing's temporary folder.
        geojson = os.path.join(
            QgsProcessingUtils.tempFolder(), f"detections-{uuid.uuid4().hex}.geojson"
        )
        arguments = ["--image", image, "--checkpoint", model]
        arguments += ["--output-gpkg", output, "--output-geojson", geojson]
        if mask:
            arguments += ["--output-mask", mask]
        self.run_command(arguments, parameters, context, feedback)
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            details.name = "Data centers"
            details.setPostProcessor(DEFAULT_STYLE)
        return {"OUTPUT": output, "MASK": mask or None}


class CompareAlgorithm(TgdcAlgorithm):
    """Compare detections with public inventories (``tgdc compare``)."""

    COMMAND = "compare"
    DISPLAY_NAME = "Compare with an inventory"
    DESCRIPTION = (
        "Matches detections with the sites of inventories (polygons by overlap, points by"
        " falling in or near a detection) over the area scanned, and writes the matched"
        " detections, the candidates in no inventory, the inventory sites missed, and"
        " precision, recall and F1 per inventory (scores.csv, summary.txt)."
    )
    OPTIONS = (("POINT_DISTANCE", "--point-distance", "Point match distance (m)", False),)

    def initAlgorithm(self, config=None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterVectorLayer(
                "DETECTIONS", "Detections", [QgsProcessing.TypeVectorPolygon]
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                "INVENTORY", "Inventories (polygons and/or points)", QgsProcessing.TypeVector
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                "FOOTPRINT",
                "Area scanned: polygons or the scanned rasters (empty: footprint.geojson"
                " beside the detections)",
                QgsProcessing.TypeMapLayer,
                optional=True,
            )
        )
        self.add_options()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_DIR", "Output folder"))
        self.add_report()
        self.addOutput(QgsProcessingOutputFolder("OUTPUT_DIR", "Output folder"))

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # noqa: D102
        detections = layer_file(
            self.parameterAsVectorLayer(parameters, "DETECTIONS", context), "detections"
        )
        folder = self.parameterAsString(parameters, "OUTPUT_DIR", context)
        arguments = ["--detections", detections, "--output-dir", folder]
        for layer in self.parameterAsLayerList(parameters, "INVENTORY", context):
            arguments += ["--inventory", layer_file(layer, "inventory")]
        footprints = self.parameterAsLayerList(parameters, "FOOTPRINT", context)
        if footprints:
            arguments += ["--footprint", *(layer_file(layer, "footprint") for layer in footprints)]
        report = self.report_path(parameters, context)
        arguments += ["--output-report", report] if report else []
        self.run_command(arguments, parameters, context, feedback)
        for file_name, title in COMPARE_LAYERS:
            path = os.path.join(folder, file_name)
            if os.path.isfile(path):
                context.addLayerToLoadOnCompletion(
                    path, context.LayerDetails(title, context.project(), "OUTPUT_DIR")
                )
        return {"OUTPUT_DIR": folder, "REPORT": report}


class ChangeAlgorithm(TgdcAlgorithm):
    """Change of data centers between NAIP years (``tgdc change``)."""

    COMMAND = "change"
    DISPLAY_NAME = "Change between years"
    DESCRIPTION = (
        "Matches the data centers detected in several years of one area by overlapping"
        " polygons and gives every site its status (new, expanded, unchanged, shrunk, gone,"
        " uncertain), first and last dates, area per year and growth."
    )
    OPTIONS = (
        ("PIXEL_SIZE", "--pixel-size", "Coarsest pixel size of the years (m)", True),
        ("MIN_GROWTH", "--min-growth", "Smallest change of area counted (fraction)", False),
        ("MIN_SCORE", "--min-score", "Score below which a site seen once is uncertain", True),
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: D102
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                "DETECTIONS",
                "Detections of two or more years",
                QgsProcessing.TypeVectorPolygon,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "DATES",
                "Date of each layer, in order, comma-separated YYYY-MM-DD (empty: each"
                " detection's `acquired`)",
                optional=True,
            )
        )
        self.add_options()
        self.add_layer_output("OUTPUT", "Sites")
        self.add_report()

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # noqa: D102
        files = [
            layer_file(layer, "detections")
            for layer in self.parameterAsLayerList(parameters, "DETECTIONS", context)
        ]
        text = self.parameterAsString(parameters, "DATES", context).strip()
        dates = [date.strip() for date in text.split(",")] if text else []
        if dates and len(dates) != len(files):
            raise QgsProcessingException(
                f"dates: {len(dates)} given for {len(files)} layers; give one per layer, in"
                " order, or none"
            )
        if dates:
            files = [f"{path}@{date}" for path, date in zip(files, dates, strict=True)]
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        arguments = ["--detections", *files, "--output", output]
        report = self.report_path(parameters, context)
        arguments += ["--output-report", report] if report else []
        self.run_command(arguments, parameters, context, feedback)
        return {"OUTPUT": output, "REPORT": report}
