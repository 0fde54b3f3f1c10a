"""Run one of the plugin's algorithms inside QGIS's own Python, as the toolbox does.

Run by QGIS's Python (``/usr/bin/python3`` with python3-qgis), not by pytest::

    python3 driver.py PLUGINS_DIR ALGORITHM MODE PARAMETERS_JSON

It starts a headless ``QgsApplication`` and Processing, loads the plugin from
``PLUGINS_DIR`` as QGIS does (``qgis.utils``), runs ALGORITHM (e.g. ``tgdc:detect``) and
prints one JSON line: the error, the log, and per mode

* ``cancel``: Cancel is pressed at the first progress report, as a user would while the
  tiles are being predicted; the files in the output folder then and after are reported;
* ``load``: the results are loaded into the project (``processing.runAndLoadResults``),
  and the loaded layers' names, renderers and feature counts are reported.

Both report the algorithm's parameters (the choices of those that have some).
"""

import json
import os
import sys

from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsProject


class Feedback(QgsProcessingFeedback):
    """Feedback that records what the algorithm reports and can press Cancel."""

    def __init__(self, cancel_at_progress: bool, outputs_dir: str) -> None:
        super().__init__()
        self.cancel_at_progress = cancel_at_progress
        self.outputs_dir = outputs_dir
        self.log = []
        self.progress_seen = []
        self.files_at_cancel = None

    def pushInfo(self, info):
        self.log.append(info)
        super().pushInfo(info)

    def setProgressText(self, text):
        self.progress_seen.append(text)
        if self.cancel_at_progress and not self.isCanceled():
            self.files_at_cancel = sorted(os.listdir(self.outputs_dir))
            self.cancel()
        super().setProgressText(text)


def main() -> None:
    """Run the algorithm and print the report."""
    plugins_dir, algorithm_id, mode = sys.argv[1:4]
    parameters = json.loads(sys.argv[4])
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    import processing
    import qgis.utils
    from processing.core.Processing import Processing

    Processing.initialize()
    qgis.utils.plugin_paths.insert(0, plugins_dir)
    sys.path.insert(0, plugins_dir)
    qgis.utils.updateAvailablePlugins()
    assert qgis.utils.loadPlugin("tgdc_processing")
    assert qgis.utils.startProcessingPlugin("tgdc_processing")
    output = parameters.get("OUTPUT") or parameters["OUTPUT_DIR"]
    outputs_dir = os.path.dirname(output)
    feedback = Feedback(cancel_at_progress=mode == "cancel", outputs_dir=outputs_dir)
    report = {"error": None}
    try:
        if mode == "load":
            processing.runAndLoadResults(algorithm_id, parameters, feedback=feedback)
        else:
            processing.run(algorithm_id, parameters, feedback=feedback)
    except QgsProcessingException as error:
        report["error"] = str(error)
    report["log"] = feedback.log
    report["progress"] = feedback.progress_seen
    report["files_at_cancel"] = feedback.files_at_cancel
    report["files_after"] = sorted(os.listdir(outputs_dir))
    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    report["parameters"] = {
        definition.name(): definition.options() if definition.type() == "enum" else None
        for definition in algorithm.parameterDefinitions()
    }
    report["layers"] = [
        {
            "name": layer.name(),
            "renderer": layer.renderer().type() if layer.type() == 0 else None,
            "features": layer.featureCount() if layer.type() == 0 else None,
        }
        for layer in QgsProject.instance().mapLayers().values()
    ]
    print(json.dumps(report))
    app.exitQgis()


if __name__ == "__main__":
    main()
