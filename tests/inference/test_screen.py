"""Tests of the screening pass: which tiles the full model runs on, and what it finds."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from support.inference import (
    GSD,
    BrightRoofs,
    SceneDataset,
    bright_roofs,
    predictor,
    save_checkpoint,
    write_scene,
)

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.imagery import ImageryRules
from torchgeo_datacenters.inference import Predictor, ProbabilityModel
from torchgeo_datacenters.inference import screen as screen_module
from torchgeo_datacenters.inference.scene import open_scene
from torchgeo_datacenters.inference.screen import Screen, find_screen, screen_path
from torchgeo_datacenters.inference.tiling import TileLayout

CPU = torch.device("cpu")
#: Roofs of the spatial test, all in the scene's upper-left 240 x 240 px.
ROOFS = [(40, 40, 60, 80), (150, 120, 50, 50)]


def coarse_bright_roofs() -> ProbabilityModel:
    """The bright-roof detector, looking at 4x the pixel size (a screen)."""
    model = bright_roofs()
    module = BrightRoofs()
    return ProbabilityModel(module, model.mean, model.std, module=module, gsd=4 * GSD)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        "model": save_checkpoint(root / "model.ckpt", logit=5.0),
        "nothing": save_checkpoint(root / "nothing.ckpt", logit=-5.0, gsd=4 * GSD),
        "everything": save_checkpoint(root / "everything.ckpt", logit=5.0, gsd=4 * GSD),
        "rgb": save_checkpoint(root / "rgb.ckpt", logit=5.0, gsd=4 * GSD, bands=3),
    }


def test_the_screen_beside_the_checkpoint_is_used_by_default(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.ckpt"
    assert screen_path(checkpoint) == tmp_path / "model.screen.ckpt"
    assert find_screen("auto", checkpoint) is None
    assert find_screen("auto", None) is None
    screen_path(checkpoint).touch()
    assert find_screen("auto", checkpoint) == tmp_path / "model.screen.ckpt"
    assert find_screen("off", checkpoint) is None
    assert find_screen(str(tmp_path / "model.screen.ckpt"), None) == screen_path(checkpoint)
    with pytest.raises(TGDCError, match=r"other\.ckpt: screen checkpoint does not exist"):
        find_screen(str(tmp_path / "other.ckpt"), checkpoint)
    with pytest.raises(TGDCError, match="is a directory; give the screen checkpoint file"):
        find_screen(str(tmp_path), checkpoint)


def test_a_screen_that_finds_nothing_keeps_the_full_model_off(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    # The full model says sigmoid(5) everywhere: one detection over the whole scene, unless
    # the screen (sigmoid(-5) everywhere, below its threshold) rules every tile out.
    scene = write_scene(tmp_path / "s.tif", 200, 260)
    options = {"device": "cpu", "tile_size": 64, "overlap": 16, "progress": False}
    full = Predictor(checkpoints["model"], screen="off", **options).predict(scene)
    screened = Predictor(checkpoints["model"], screen=str(checkpoints["nothing"]), **options)
    result = screened.predict(scene)
    assert len(full) == 1 and len(result) == 0
    assert result.stats.screened_tiles == result.stats.tiles == full.stats.tiles > 0
    assert (
        f"the screen ruled out {full.stats.tiles} of {full.stats.tiles} tiles" in result.summary()
    )
    assert result.scanned_km2 == pytest.approx(full.scanned_km2)
    everywhere = Predictor(checkpoints["model"], screen=str(checkpoints["everything"]), **options)
    kept = everywhere.predict(scene)
    assert kept.stats.screened_tiles == 0
    # The summary says a screen ran even where it ruled nothing out.
    assert f"the screen ruled out 0 of {full.stats.tiles} tiles" in kept.summary()
    assert "screen" not in full.summary()
    assert everywhere.screen == str(checkpoints["everything"])
    assert kept.gdf.geometry.geom_equals(full.gdf.geometry).all()


def test_by_default_the_screen_beside_the_checkpoint_screens_files_not_datasets(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    # A screen that finds nothing, shipped beside the checkpoint: a scene of files is
    # screened by default (no tile runs), a TorchGeo dataset (which the screen cannot read
    # at its own pixel size) is predicted in full, as with --screen off.
    (tmp_path / "scene").mkdir()
    scene = write_scene(tmp_path / "scene" / "s.tif", 200, 260)
    model = tmp_path / "model.ckpt"
    model.write_bytes(checkpoints["model"].read_bytes())
    screen_path(model).write_bytes(checkpoints["nothing"].read_bytes())
    options = {"device": "cpu", "tile_size": 64, "overlap": 16, "progress": False}
    default = Predictor(model, **options)
    assert default.screen == str(screen_path(model))
    assert len(default.predict(scene)) == 0
    dataset = default.predict(SceneDataset(str(tmp_path / "scene")))
    full = Predictor(model, screen="off", **options).predict(scene)
    assert len(full) == len(dataset) == 1 and dataset.stats.screened_tiles == 0


def test_the_screened_run_traces_the_full_runs_outlines(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "s.tif", 900, 700, ROOFS)
    full = predictor(tile_size=64, overlap=16).predict(scene)
    screened = predictor(tile_size=64, overlap=16)
    screened.screening = Screen(coarse_bright_roofs(), CPU)
    result = screened.predict(scene)
    assert len(full) == len(ROOFS)
    assert sorted(result.gdf.geometry.to_wkt()) == sorted(full.gdf.geometry.to_wkt())
    # The roofs and the margin around them hold a small part of the scene's tiles.
    run = result.stats.tiles - result.stats.screened_tiles
    assert 0 < run < result.stats.tiles / 3
    assert result.scanned_km2 == pytest.approx(full.scanned_km2)


class _LeftOnly(BrightRoofs):
    """BrightRoofs that sees nothing right of its input's first *columns* columns."""

    def __init__(self, columns: int) -> None:
        super().__init__()
        self.columns = columns

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        probabilities = super().forward(images)
        probabilities[..., self.columns :] = 0
        return probabilities


@pytest.mark.parametrize("regularize", [False, True])
def test_an_outline_the_screened_area_cuts_is_traced_whole(
    tmp_path: Path, regularize: bool
) -> None:
    # A long roof, rows 100-160 and columns 100-700, and a second one far below it. The
    # screen (no margin) sees the long roof only left of column 160 (40 coarse pixels) and
    # the other one not at all.
    scene = write_scene(tmp_path / "s.tif", 600, 900, [(100, 100, 60, 600), (450, 300, 60, 60)])
    options = {"tile_size": 64, "overlap": 16, "regularize": regularize}
    full = predictor(**options).predict(scene, output_mask=tmp_path / "full.tif")
    screened = predictor(**options)
    model = bright_roofs()
    module = _LeftOnly(40)
    coarse = ProbabilityModel(module, model.mean, model.std, module=module, gsd=4 * GSD)
    screened.screening = Screen(coarse, CPU, margin_m=0)
    result = screened.predict(scene, output_mask=tmp_path / "screened.tif")
    assert len(full) == 2 and len(result) == 1
    # The long roof: the full run's outline, exactly, and the mask written is the last pass's.
    (outline,) = result.gdf.geometry.to_wkt()
    assert outline in set(full.gdf.geometry.to_wkt())
    assert result.gdf["area_m2"].iloc[0] == pytest.approx(
        full.gdf["area_m2"].max(), rel=0.1 if regularize else 1e-9
    )
    with rasterio.open(tmp_path / "full.tif") as a, rasterio.open(tmp_path / "screened.tif") as b:
        whole, cut = a.read(1), b.read(1)
    assert (cut[:300] == whole[:300]).all() and whole[450:510, 300:360].all()
    assert not cut[300:].any()
    # The tiles left out: all but those around the long roof.
    run = result.stats.tiles - result.stats.screened_tiles
    assert 0 < run < result.stats.tiles / 2


def test_screen_arguments_are_checked() -> None:
    with pytest.raises(TGDCError, match="strictly between 0 and 1"):
        Screen(coarse_bright_roofs(), CPU, threshold=1.0)
    with pytest.raises(TGDCError, match="must be >= 0"):
        Screen(coarse_bright_roofs(), CPU, margin_m=-1.0)


class _Recording(BrightRoofs):
    """BrightRoofs noting the shape of every batch and the autocast type it ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[tuple[int, ...], torch.dtype | None]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        cast = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
        self.calls.append((tuple(images.shape), cast))
        return super().forward(images)


@pytest.mark.parametrize(("precision", "cast"), [("fp32", None), ("bf16", torch.bfloat16)])
def test_a_scene_within_one_block_is_screened_once_at_the_runs_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precision: str, cast: torch.dtype | None
) -> None:
    monkeypatch.setattr(screen_module, "SCREEN_BLOCK", 64)
    # 256 x 200 px at 0.6 m: 64 x 50 coarse pixels, one block (centred on the 50).
    path = write_scene(tmp_path / "s.tif", 256, 200, [(40, 120, 60, 72)])
    module = _Recording()
    model = bright_roofs()
    coarse = ProbabilityModel(module, model.mean, model.std, module=module, gsd=4 * GSD)
    screen = Screen(coarse, CPU, margin_m=0, precision=precision)
    rules = predictor().imagery_rules
    found, grid_scene = screen.candidates(open_scene(path, 4, rules), rules)
    assert module.calls == [((1, 4, 64, 64), cast)]
    assert found.shape == (64, 50) == (grid_scene.grid.height, grid_scene.grid.width)
    # The roof, rows 40-100 and columns 120-192 at 0.6 m, is rows 10-25, columns 30-48 at 2.4 m.
    rows, cols = np.nonzero(found)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == pytest.approx(
        (10, 24, 30, 47), abs=1
    )


class _Counting(BrightRoofs):
    """BrightRoofs that counts the tiles it predicts."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.tiles += images.shape[0]
        return super().forward(images)


def test_a_roof_the_screened_area_cuts_below_the_minimum_area_is_found_whole(
    tmp_path: Path,
) -> None:
    # A long roof, rows 100-160 and columns 100-700 (12,960 m²): the screen (no margin)
    # sees only its first 8 coarse columns (32 px), so the tiles that run first (up to
    # column 160) hold about 1,200 m² of it, a patch below the minimum area of 5,000 m²
    # that the tiles left out cut off.
    scene = write_scene(tmp_path / "s.tif", 300, 900, [(100, 100, 60, 600)])
    options = {"tile_size": 64, "overlap": 16, "min_area": 5000.0}
    full = predictor(**options).predict(scene)
    counting = _Counting()
    model = bright_roofs()
    counted = ProbabilityModel(counting, model.mean, model.std, module=counting)
    screened = predictor(counted, **options)
    module = _LeftOnly(40)
    coarse = ProbabilityModel(module, model.mean, model.std, module=module, gsd=4 * GSD)
    screened.screening = Screen(coarse, CPU, margin_m=0)
    result = screened.predict(scene)
    assert len(full) == 1
    assert result.gdf.geometry.to_wkt().tolist() == full.gdf.geometry.to_wkt().tolist()
    # Each tile ran once, however many passes it took to find the roof's end.
    run = result.stats.tiles - result.stats.screened_tiles
    assert counting.tiles == run < result.stats.tiles


def test_speckle_inside_the_tiles_that_ran_adds_no_tile(tmp_path: Path) -> None:
    layout = TileLayout(64, 16, [(row, col) for row in (0, 48, 96) for col in (0, 48, 96)])
    run = np.zeros(9, bool)
    run[[0, 1, 3, 4]] = True  # the upper-left 112 x 112 px
    grid = open_scene(write_scene(tmp_path / "s.tif", 160, 160), 4, ImageryRules()).grid
    screen = Screen(coarse_bright_roofs(), CPU)
    none = gpd.GeoDataFrame(geometry=[], crs=grid.crs)
    # A patch of 3 x 3 px in the middle of the tiles that ran is whole.
    inside = np.array([[40.0, 40.0, 43.0, 43.0]])
    assert not screen.unfinished(none, inside, grid, layout, run, 4).any()
    # One at the edge of what they predict (column 112 - 16 // 4 = 108) may go on.
    edge = np.array([[100.0, 40.0, 108.0, 43.0]])
    more = screen.unfinished(none, edge, grid, layout, run, 4)
    assert more.tolist() == [False, False, True, False, False, False, False, False, False]


def test_a_screen_of_other_bands_is_refused_before_any_tile(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(
        TGDCError,
        match=r"rgb\.ckpt: the screen was trained on 3 band\(s\) \(R, G, B\) of uint8 .*, the"
        r" model on 4 \(R, G, B, NIR\) .*; train the screen on the model's imagery, or give"
        r" --screen off",
    ):
        Predictor(checkpoints["model"], screen=str(checkpoints["rgb"]), device="cpu")
    with pytest.raises(TGDCError, match="screen: empty; give auto, off or the path"):
        find_screen(" ", checkpoints["model"])
