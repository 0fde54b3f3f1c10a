"""Small helpers shared by every stage: atomic file writes, C heap settings, workers."""

from .atomic import atomic_output, check_output_dir, check_output_path
from .memory import return_large_blocks
from .processes import end_with_parent

__all__ = [
    "atomic_output",
    "check_output_dir",
    "check_output_path",
    "end_with_parent",
    "return_large_blocks",
]
