"""Small helpers shared by every stage: atomic file writes, C heap settings."""

from .atomic import atomic_output, check_output_path
from .memory import return_large_blocks

__all__ = ["atomic_output", "check_output_path", "return_large_blocks"]
