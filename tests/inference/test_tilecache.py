"""Tests of the tile probabilities kept between the passes of a screened run."""

import os

import numpy as np
import pytest

from torchgeo_datacenters.inference.tilecache import TileCache


def test_tiles_put_are_got_back_and_the_file_goes_with_the_cache() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.random((3, 16, 16), dtype=np.float32)
    with TileCache(5, 16) as cache:
        descriptor = cache._file.fileno()
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
        assert os.fstat(descriptor).st_size == 5 * 16 * 16 * 4
    # The file was anonymous (no name left behind) and is closed now.
    assert cache._file.closed
