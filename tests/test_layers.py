"""The package's layers: no module imports one of a layer above its own.

Imagery comes before datasets, datasets before the datamodule, the datamodule before the
task and model, those before inference, inference before scan and scan before the
commands; the detection table (``detections``) comes before the files written of it
(``outputs``). Every import counts, those inside functions and under ``TYPE_CHECKING``
too: a lazy import that climbs is still a cycle waiting to happen.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "torchgeo_datacenters"

#: The package's top-level modules and subpackages, lowest layer first. A unit may import
#: units of its own layer or of any layer below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors"),
    ("naip", "utils", "vectors", "options", "loggers", "callbacks"),
    ("imagery", "checkpoint", "samplers", "synthetic", "qgis"),
    ("grid", "datasets", "detections"),
    ("datamodules", "models", "outputs", "stac"),
    ("tasks",),
    ("inference", "training", "evaluation"),
    ("scan", "demo"),
    # The command line: cli builds the parser of the commands (and `tgdc qgis describe`
    # reads that parser back).
    ("commands", "cli"),
)

RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """The top-level unit of a dotted module name of the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(package: Path) -> list[tuple[str, str, str]]:
    """Every import between units of a package.

    Args:
        package: the package's directory.

    Returns:
        (importing file, its unit, the imported unit) for every import of another unit.
    """
    found = []
    name = package.name
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = module if parts[-1] == "__init__" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    targets = [".".join([*base, *([node.module] if node.module else [])])]
                    if not node.module:
                        # `from .. import x`: x is a module where a file or folder has
                        # its name, else a name the package itself defines.
                        folder = package.parent.joinpath(*base)
                        targets = [
                            f"{targets[0]}.{alias.name}"
                            if (folder / alias.name).is_dir()
                            or (folder / f"{alias.name}.py").is_file()
                            else targets[0]
                            for alias in node.names
                        ]
                else:
                    targets = [node.module or ""]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == name and unit_of(target) != unit_of(module):
                    found.append((str(path.relative_to(package)), unit_of(module), unit_of(target)))
    return found


def upward_imports(package: Path) -> list[str]:
    """The imports of a unit of a higher layer, as ``file: unit -> unit`` lines."""
    return [
        f"{path}: {unit} -> {target}"
        for path, unit, target in imports(package)
        if RANK[target] > RANK[unit]
    ]


def test_every_unit_has_a_layer() -> None:
    units = {path.stem for path in PACKAGE.glob("*.py")} | {
        path.parent.name for path in PACKAGE.glob("*/__init__.py")
    }
    assert units - set(RANK) == set(), "add the new module or subpackage to LAYERS"
    assert set(RANK) - units == set()


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(PACKAGE) == []


@pytest.mark.parametrize(
    ("source", "climbs"),
    [
        ("from ..inference.model import load_checkpoint\n", True),
        ("def f():\n    from torchgeo_datacenters.outputs import styles\n", True),
        ("from .. import inference\n", True),
        ("from ..errors import TGDCError\n", False),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, source: str, climbs: bool) -> None:
    package = tmp_path / "torchgeo_datacenters"
    for unit in ("detections", "inference", "outputs"):
        (package / unit).mkdir(parents=True)
        (package / unit / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "detections" / "writers.py").write_text(source)
    found = upward_imports(package)
    assert bool(found) == climbs
    assert all(line.startswith("detections/writers.py: detections -> ") for line in found)
