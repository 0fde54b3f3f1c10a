"""Screenshots of the QGIS plugin, taken inside QGIS's GUI (run by qgis_screenshots.sh).

QGIS runs this file after it starts (``qgis --code``). It opens the "Detect data
centers" dialog filled with the parameters in ``TGDC_SHOT_PARAMETERS`` (JSON) and grabs
it, runs the algorithm as the dialog's Run button does (``processing.runAndLoadResults``:
the result layer is loaded with tgdc's style) over the scene, and grabs QGIS's main
window without the mask layer; both PNGs go to ``TGDC_SHOT_DIR``, then QGIS quits.
"""

import json
import os

import processing
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface

PARAMETERS = json.loads(os.environ["TGDC_SHOT_PARAMETERS"])
OUT = os.environ["TGDC_SHOT_DIR"]
STATE = {}


def grab(widget, name: str) -> None:
    """Save a widget as it is drawn on the screen."""
    widget.grab().save(os.path.join(OUT, name))


def dialog_shot() -> None:
    """Grab the algorithm dialog, close it, and run the algorithm."""
    grab(STATE["dialog"], "qgis-dialog.png")
    STATE["dialog"].close()
    project = QgsProject.instance()
    scene = QgsRasterLayer(PARAMETERS["INPUT"], "SYNTHETIC scene (R, G, B)")
    project.addMapLayer(scene)
    processing.runAndLoadResults("tgdc:detect", PARAMETERS)
    # The mask is loaded too; the detections are shown over the imagery alone.
    for layer in project.mapLayersByName("Mask (1: data center)"):
        project.removeMapLayer(layer.id())
    for dock in iface.mainWindow().findChildren(QDockWidget):
        if dock.objectName() == "Browser":
            dock.hide()
    iface.mapCanvas().setExtent(scene.extent())
    iface.mapCanvas().refresh()
    QTimer.singleShot(6000, map_shot)


def map_shot() -> None:
    """Grab QGIS's main window with the result layer over the scene, then quit."""
    grab(iface.mainWindow(), "qgis-result.png")
    QgsApplication.exit(0)


def start() -> None:
    """Open the dialog filled with the parameters."""
    iface.mainWindow().resize(1400, 900)
    dialog = processing.createAlgorithmDialog("tgdc:detect", PARAMETERS)
    dialog.resize(900, 760)
    dialog.show()
    STATE["dialog"] = dialog
    QTimer.singleShot(4000, dialog_shot)


QTimer.singleShot(3000, start)
