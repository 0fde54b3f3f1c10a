import subprocess
import sys
from pathlib import Path

#: Run in a fresh interpreter where importing torch or torchgeo (or any of their
#: submodules) raises, then import every module of the package and use it.
BLOCKED_IMPORT = """
import importlib.abc
import sys


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchgeo"):
            raise ImportError(f"{name} is blocked")
        return None


sys.meta_path.insert(0, Blocked())

import numpy as np
from affine import Affine

import torchgeo_datacenters.detections as detections
from torchgeo_datacenters.detections import merge, metric, schema, vectorize, writers

probabilities = np.zeros((20, 20), np.float32)
probabilities[5:15, 5:15] = 1.0
vectorizer = detections.Vectorizer(
    Affine(0.6, 0, 500000, 0, -0.6, 4400000), "EPSG:32617", probabilities.shape
)
vectorizer.add(0, detections.threshold_band(probabilities, 0.5), probabilities)
table = detections.merge_detections(vectorizer.finish())
detections.write_geojson(table, sys.argv[1])
print(len(table), round(float(table["area_m2"].iloc[0]), 2))
print(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "torchgeo")))
"""


def test_detections_work_without_torch_or_torchgeo(tmp_path: Path) -> None:
    path = tmp_path / "d.geojson"
    run = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT, str(path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    # One 10 x 10 pixel square of 0.6 m pixels, traced, merged and written; no torch loaded.
    assert run.stdout.splitlines() == ["1 36.0", "[]"]
    assert '"area_m2":36.0' in path.read_text()
