"""Start-up: torch's own import time against ``tgdc detect``'s time to its first tile.

Each figure is the wall time from starting a fresh Python process to the moment named,
the best of ``--repeat`` runs (the machine is shared): ``import torch`` done, and
``tgdc detect`` handing its first batch of tiles to the model (the run stops there).
The scene is a small SYNTHETIC one and the model a checkpoint of UNet4 with random
weights, and the same model exported to ONNX (``tgdc export``); neither run imports
Lightning or the training task.

    uv run python benchmarks/startup.py [--repeat 3]
"""

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TORCH_CHILD = "import torch; print('READY', flush=True)"

#: Runs ``tgdc detect`` and stops it when the first batch reaches the model.
DETECT_CHILD = textwrap.dedent(
    """
    import os, sys
    from torchgeo_datacenters.cli import main
    from torchgeo_datacenters.inference.predictor import Predictor

    def first_tile(self, model, images):
        print("READY", flush=True)
        os._exit(0)

    Predictor._forward = first_tile
    main(sys.argv[1:])
    """
)

#: Writes a checkpoint of UNet4 with random weights, and exports it to ONNX.
CHECKPOINT_CHILD = textwrap.dedent(
    """
    import sys
    import lightning
    from torchgeo_datacenters.cli import main
    from torchgeo_datacenters.tasks import DataCenterSegmentation

    task = DataCenterSegmentation(model="unet4", mean=[120.0] * 4, std=[50.0] * 4)
    trainer = lightning.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.strategy.connect(task)
    trainer.save_checkpoint(sys.argv[1])
    main(["export", "--checkpoint", sys.argv[1], "--onnx", sys.argv[2]])
    """
)


def seconds_to_ready(command: list[str]) -> float:
    """Wall seconds from starting *command* to its line ``READY``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.strip() == "READY":
            took = time.perf_counter() - start
            process.wait()
            return took
    raise RuntimeError(f"{command[:3]} ended (status {process.wait()}) before its first tile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept")
    args = parser.parse_args()
    from torchgeo_datacenters.synthetic import generate_scene

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = tmp / "scene.tif"
        generate_scene(scene, size=256, seed=0)
        models = [tmp / "model.ckpt", tmp / "model.onnx"]
        subprocess.run([sys.executable, "-c", CHECKPOINT_CHILD, *map(str, models)], check=True)
        commands = {"import torch": [sys.executable, "-c", TORCH_CHILD]}
        for model in models:
            commands[f"tgdc detect --checkpoint {model.name}, to its first tile"] = [
                *(sys.executable, "-c", DETECT_CHILD, "detect", "--checkpoint", str(model)),
                *("--image", str(scene), "--output-geojson", str(tmp / "d.geojson")),
                *("--device", "cpu", "--overwrite"),
            ]
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                seconds[name].append(seconds_to_ready(command))
    torch_s = min(seconds["import torch"])
    for name, runs in seconds.items():
        listed = ", ".join(f"{s:.2f}" for s in runs)
        versus = f" = torch + {min(runs) - torch_s:.2f} s" if name != "import torch" else ""
        print(f"python + {name}: {min(runs):.2f} s{versus} (runs: {listed})")
    print("target: time to first tile <= torch + 2 s")


if __name__ == "__main__":
    main()
