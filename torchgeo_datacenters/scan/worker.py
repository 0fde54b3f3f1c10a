"""The Ray actor of a scan: one model kept loaded, predicting one scene after another.

While it predicts a scene, a worker downloads the next one it is given (one at most, see
:mod:`.fetch`), so that with a network faster than the model it never waits for imagery
but for the first scene.
"""

import dataclasses
import os
import time
import warnings
from dataclasses import dataclass

import geopandas as gpd
import rasterio

from ..detections import prune_small
from ..errors import TGDCError, describe_error
from ..inference import Predictor
from ..options import PredictorOptions
from .fetch import SceneFetcher
from .scenes import ScanScene


@dataclass(frozen=True)
class ScenePolicy:
    """How a worker predicts every scene, whatever the scan's options.

    A worker keeps all detections, whatever their size, with their traced outlines, reads
    tiles in its own process and shows no progress. The merge across scenes joins the
    pieces of every building first, then drops those under the scan's ``min_area``
    (:meth:`SceneWorker.scan` drops them already away from the scene's edges) and writes
    outlines by the scan's rules.

    Attributes:
        min_area: the predictor's ``min_area`` on a scene, in m².
        regularize: whether a scene's outlines are regularised.
        split_width: the predictor's ``split_width`` on a scene, in metres.
        num_workers: tile-reading processes of a worker (0: its own process; it has
            one CPU).
    """

    min_area: float = 0.0
    regularize: bool = False
    split_width: float = 0.0
    num_workers: int = 0

    def scene_options(self, options: PredictorOptions, device: str) -> PredictorOptions:
        """The options a worker predicts every scene with.

        Args:
            options: the scan's options.
            device: the worker's device, ``cpu`` or ``cuda``.

        Returns:
            *options* with this policy's values and *device*.
        """
        return dataclasses.replace(options, device=device, **dataclasses.asdict(self))


#: The policy of every scan's workers.
SCENE_POLICY = ScenePolicy()


@dataclass(frozen=True)
class SceneOutcome:
    """What one attempt at a scene gave.

    Attributes:
        scene: the scene's id.
        detections: its detections (None when the attempt failed).
        scanned_km2: area of valid pixels scanned, in km².
        seconds: duration of the attempt, in seconds.
        error: why the attempt failed (None when it succeeded).
        node: the Ray node that ran the attempt (its node id, hex; None when unknown).
        waited: part of *seconds* spent waiting for the scene's file (its download), in
            seconds.
        unreadable: whether the attempt failed on the scene's file itself (not a raster,
            bands or georeferencing the model cannot read), which no new attempt can
            change: the user's file is read, not a copy of it.
    """

    scene: str
    detections: gpd.GeoDataFrame | None
    scanned_km2: float
    seconds: float
    error: str | None = None
    node: str | None = None
    waited: float = 0.0
    unreadable: bool = False


class SceneWorker:
    """Predicts scenes one after another with one model kept loaded, for a scan's Ray actor."""

    def __init__(
        self,
        checkpoint: bytes,
        name: str,
        options: PredictorOptions,
        device: str,
        temp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Load the model and make the worker's directory of downloads.

        Args:
            checkpoint: the checkpoint file's bytes (workers may run on other machines).
            name: the checkpoint's file name.
            options: the scan's options (see
                :func:`~torchgeo_datacenters.options.scan_option_names`), with the
                threshold resolved; the worker predicts by :data:`SCENE_POLICY`.
            device: ``cpu`` or ``cuda``.
            temp_dir: where the worker's directory goes, which holds its copy of the
                checkpoint and its downloaded scenes (default: the system's temporary
                directory).
        """
        import ray  # a worker runs inside Ray

        # Outside Ray (a benchmark of one worker) the node is unknown.
        self.node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        # The checkpoint lies in the worker's directory, which close() removes and a later
        # worker removes if this one is killed outright.
        self.fetcher = SceneFetcher(temp_dir)
        path = self.fetcher.root / "model" / name
        try:
            path.parent.mkdir()
            path.write_bytes(checkpoint)
            self.predictor = Predictor(
                path, SCENE_POLICY.scene_options(options, device), progress=False
            )
        except BaseException:
            self.fetcher.close()
            raise
        self.min_area = options.min_area
        self.merge_distance = options.merge_distance

    def scan(self, scene: ScanScene, following: ScanScene | None = None) -> SceneOutcome:
        """Predict one scene, fetching the next one meanwhile.

        Detections of every size are kept near the scene's edge, where they may continue in
        a neighbouring scene; elsewhere those smaller than ``min_area`` are dropped.

        Args:
            scene: the scene (used as fetched ahead where it was the last call's
                *following*).
            following: the scene this worker predicts next, downloaded while this one is
                predicted (None: none is known).

        Returns:
            Its detections and counts, or the error that stopped it.
        """
        start = time.perf_counter()
        fetched = self.fetcher.take(scene)
        if following is not None:
            self.fetcher.prefetch(following)
        path = None
        try:
            path = fetched.file.result()
            waited = time.perf_counter() - start
            with warnings.catch_warnings():
                # A scene with no valid pixel is a result (0 km², no detection), not a warning.
                warnings.simplefilter("ignore", UserWarning)
                result = self.predictor.predict(path, acquired=scene.acquired())
            with rasterio.open(path) as src:
                bounds, crs, pixel = tuple(src.bounds), src.crs, max(src.res)
            detections = prune_small(
                result.gdf,
                bounds,
                crs,
                min_area=self.min_area,
                distance=self.merge_distance + pixel,
            )
        except Exception as error:
            seconds = time.perf_counter() - start
            # The predictor's own errors after the file was fetched are about its content.
            unreadable = path is not None and isinstance(error, TGDCError) and not scene.copied
            return SceneOutcome(
                scene.id,
                None,
                0.0,
                seconds,
                describe_error(error),
                self.node,
                unreadable=unreadable,
            )
        finally:
            fetched.remove()
        seconds = time.perf_counter() - start
        return SceneOutcome(
            scene.id, detections, result.scanned_km2, seconds, node=self.node, waited=waited
        )

    def close(self) -> None:
        """Stop the downloads and remove the worker's files (before the actor is killed)."""
        self.fetcher.close()

    def ready(self) -> str | None:
        """Answer once the model is loaded: the pool hands scenes only to ready workers.

        Returns:
            The worker's Ray node id (None outside Ray).
        """
        return self.node
