"""Tests of the tile probabilities kept between the passes of a screened run."""

from pathlib import Path

import numpy as np
import pytest

from torchgeo_datacenters.inference.tilecache import TileCache


def test_tiles_put_are_got_back_and_the_file_goes_with_the_cache() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.random((3, 16, 16), dtype=np.float32)
    with TileCache(5, 16) as cache:
        folder = Path(cache._directory.name)
        cache.put(4, tiles[0])
        cache.put(1, tiles[1])
        assert cache.held.tolist() == [False, True, False, False, True]
        np.testing.assert_array_equal(cache.get(4), tiles[0])
        got = cache.get(1)
        cache.put(1, tiles[2])
        np.testing.assert_array_equal(got, tiles[1])  # a copy, not a view of the file
        np.testing.assert_array_equal(cache.get(1), tiles[2])
        with pytest.raises(KeyError, match="tile 0"):
            cache.get(0)
        assert any(folder.iterdir())
    assert not folder.exists()
