"""``tgdc describe``: what a checkpoint holds, as text or as a STAC item (MLM extension)."""

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``describe`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "describe",
        help="describe a trained checkpoint (bands, statistics, threshold; --stac: MLM item)",
        description=(
            "Print what a checkpoint written by training holds: model, input bands, pixel"
            " size, normalisation, threshold and parameter count, and what it was trained"
            " from (a checkpoint or scratch) and on (label files, review rounds); with"
            " --stac, a STAC item describing it with the MLM (machine learning model)"
            " extension."
        ),
    )
    parser.add_argument("checkpoint", type=Path, help="model checkpoint (.ckpt)")
    parser.add_argument(
        "--stac", action="store_true", help="print a STAC item (JSON) with the MLM extension"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the description.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    from ..inference.model import read_checkpoint_facts
    from ..outputs.stac import model_item

    item = model_item(read_checkpoint_facts(args.checkpoint))
    if args.stac:
        print(json.dumps(item.to_dict(include_self_link=False), indent=2))
        return 0
    properties = item.properties
    (model_input,) = properties["mlm:input"]
    hyper = properties["mlm:hyperparameters"]
    scaling = model_input["value_scaling"]
    lines = {
        "model": f"{properties['mlm:name']} ({properties['mlm:architecture']})",
        "parameters": f"{properties['mlm:total_parameters']:,}",
        "bands": ", ".join(model_input["bands"]),
        "input": f"{model_input['input']['data_type']}, tiles of {hyper['patch_size']} px,"
        f" {hyper['gsd']} m pixels",
        "mean": ", ".join(f"{s['mean']:g}" for s in scaling),
        "std": ", ".join(f"{s['stddev']:g}" for s in scaling),
        "threshold": f"{hyper['threshold']:g}",
        "class": properties["mlm:output"][0]["classification:classes"][0]["name"],
        "weights": f"trained from {hyper.get('trained_from', 'scratch')}",
        "labels": ", ".join(hyper.get("label_files", [])) or "not recorded",
        "reviews": f"{len(hyper.get('review_runs', []))} round(s)"
        + (f": runs {', '.join(hyper['review_runs'])}" if hyper.get("review_runs") else ""),
    }
    for name, value in lines.items():
        print(f"{name + ':':12s}{value}")
    return 0
