"""Start-up: torch's own import time against ``tgdc detect``'s time to its first tile.

Each figure is the wall time from starting a fresh Python process to the moment named,
the best of ``--repeat`` runs (the machine is shared): ``import torch`` done, and
``tgdc detect`` handing its first batch of tiles to the model (the run stops there).
The scene is a small SYNTHETIC one and the model a checkpoint of UNet4 with random
weights, or ``--checkpoint`` (a ``.ckpt`` or an exported ``.onnx``).

    uv run python benchmarks/startup.py [--repeat 3] [--checkpoint FILE]
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

#: Writes a checkpoint of UNet4 with random weights.
CHECKPOINT_CHILD = textwrap.dedent(
    """
    import sys
    import lightning
    from torchgeo_datacenters.tasks import DataCenterSegmentation

    task = DataCenterSegmentation(model="unet4", mean=[120.0] * 4, std=[50.0] * 4)
    trainer = lightning.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.strategy.connect(task)
    trainer.save_checkpoint(sys.argv[1])
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
    parser.add_argument("--checkpoint", type=Path, help="model (default: random UNet4)")
    args = parser.parse_args()
    from torchgeo_datacenters.synthetic import generate_scene

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = tmp / "scene.tif"
        generate_scene(scene, size=256, seed=0)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = tmp / "model.ckpt"
            subprocess.run([sys.executable, "-c", CHECKPOINT_CHILD, str(checkpoint)], check=True)
        detect = [
            *(sys.executable, "-c", DETECT_CHILD, "detect", "--checkpoint", str(checkpoint)),
            *("--image", str(scene), "--output-geojson", str(tmp / "d.geojson"), "--overwrite"),
            *("--device", "cpu"),
        ]
        torch_s, detect_s = [], []
        for _ in range(args.repeat):
            torch_s.append(seconds_to_ready([sys.executable, "-c", TORCH_CHILD]))
            detect_s.append(seconds_to_ready(detect))
    best_torch, best_detect = min(torch_s), min(detect_s)
    runs = ", ".join(f"{s:.2f}" for s in torch_s)
    print(f"python + import torch: {best_torch:.2f} s (runs: {runs})")
    print(
        f"tgdc detect to its first tile ({checkpoint.suffix}): {best_detect:.2f} s (runs:"
        f" {', '.join(f'{s:.2f}' for s in detect_s)}) = torch + {best_detect - best_torch:.2f} s"
        " (target: torch + 2 s)"
    )


if __name__ == "__main__":
    main()
