"""Small helpers shared by every stage: atomic file writes."""

from .atomic import atomic_output, check_output_path

__all__ = ["atomic_output", "check_output_path"]
