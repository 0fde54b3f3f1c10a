"""Colours of the SYNTHETIC scenes' ground, vehicles and rooftop details.

Every colour is (R, G, B, NIR) in NAIP digital numbers, calibrated on real NAIP imagery
(concrete about 205 in the visible bands and 140 in NIR). A single colour is an array of
shape (4,); a set that objects are drawn from has shape (k, 4). Roof colours belong to the
building classes (:mod:`.buildings`).
"""

import numpy as np

GRASS = np.array([88, 112, 72, 190], np.float32)
DRY_GRASS = np.array([158, 148, 116, 160], np.float32)
SOIL = np.array([166, 142, 116, 148], np.float32)
TREES = np.array([48, 70, 50, 168], np.float32)
WATER = np.array([38, 58, 66, 12], np.float32)
ASPHALT = np.array([96, 97, 99, 82], np.float32)
CONCRETE = np.array([184, 182, 176, 140], np.float32)
GRAVEL = np.array([160, 154, 142, 136], np.float32)
MARKING = np.array([[225, 222, 200, 180]], np.float32)
DARK = np.array([[58, 60, 64, 48]], np.float32)
UNIT = np.array([[112, 115, 119, 96], [98, 101, 106, 84]], np.float32)
FAN = np.array([[44, 47, 51, 36]], np.float32)
TRANSFORMER = np.array([[72, 74, 78, 60], [86, 88, 90, 70]], np.float32)
GENERATOR = np.array([[216, 213, 202, 178], [200, 200, 196, 165]], np.float32)
HVAC = np.array([[150, 151, 155, 124], [128, 130, 134, 106], [176, 176, 178, 146]], np.float32)
SKYLIGHT = np.array([[236, 240, 242, 212]], np.float32)
TRAILERS = np.array(
    [[228, 228, 225, 192], [214, 214, 212, 180], [168, 168, 170, 138], [150, 60, 50, 95]],
    np.float32,
)
CARS = np.array(
    [
        [232, 232, 232, 196],
        [36, 36, 40, 30],
        [172, 174, 178, 142],
        [112, 114, 118, 92],
        [168, 42, 40, 108],
        [42, 62, 128, 70],
        [196, 186, 160, 150],
    ],
    np.float32,
)
HOUSES = np.array(
    [
        [112, 86, 72, 82],
        [82, 82, 88, 70],
        [142, 72, 58, 86],
        [172, 152, 126, 132],
        [150, 150, 152, 120],
    ],
    np.float32,
)

SHADOW = 0.45
"""Brightness factor of ground in a building's shadow."""

NOISE_SIGMA = 3.0
"""Standard deviation of the per-pixel sensor noise, in digital numbers."""
