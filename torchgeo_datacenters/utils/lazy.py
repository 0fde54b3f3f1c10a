"""Packages that export the names of their modules lazily (PEP 562, as in SPEC 1).

A package's ``__init__`` lists, per submodule, the names it exports; a submodule is
imported the first time one of its names is looked up on the package. Importing the
package, or one of its modules, then costs only what that module itself imports. Type
checkers and linters see the names through the same imports under
:data:`typing.TYPE_CHECKING` and the package's ``__all__``.

Example, in a package's ``__init__``::

    if TYPE_CHECKING:
        from .merge import merge_detections

    __all__ = ["merge_detections"]
    __getattr__, __dir__ = lazy_exports(__name__, {"merge": ["merge_detections"]})
"""

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a package's module ``__getattr__`` and ``__dir__``.

    Args:
        package: the package's ``__name__``.
        exports: submodule name (relative to *package*) to the names it exports.

    Returns:
        ``__getattr__``, which imports the submodule of an exported name and keeps the
        value on the package (later look-ups are plain attribute reads); and ``__dir__``.
    """
    owners = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in owners:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{owners[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(owners))

    return __getattr__, __dir__
