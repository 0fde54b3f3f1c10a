import platform
import subprocess
import sys

import pytest

from torchgeo_datacenters.utils import return_large_blocks

#: Frees a 16 MiB block (glibc then raises its mmap threshold to 16 MiB), then prints how
#: many kB the resident memory drops by when an 8 MiB block is freed.
FREED_KB = """
import sys
import numpy as np
from torchgeo_datacenters.utils import return_large_blocks
if sys.argv[1] == "fixed":
    assert return_large_blocks()
def resident_kb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
big = np.ones(16 * 2**20, np.uint8)
del big
block = np.ones(8 * 2**20, np.uint8)
before = resident_kb()
del block
print(before - resident_kb())
"""


def freed_kb(mode: str) -> int:
    """Run FREED_KB in a fresh interpreter (the setting is process-wide)."""
    run = subprocess.run(
        [sys.executable, "-c", FREED_KB, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_large_blocks_go_back_to_the_system() -> None:
    assert freed_kb("glibc") < 1024  # kept in the heap by glibc's moving threshold
    assert freed_kb("fixed") >= 8 * 1024


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        return_large_blocks(0)
