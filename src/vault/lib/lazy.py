"""Lazy package exports (PEP 562): a package names what it re-exports, each imported on first use.

Importing one submodule then does not import the whole package, which keeps command start short
(tests/bench/test_cli_start_bench.py).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: ``exports`` maps a name to the module that defines it (a
    name that is itself a submodule maps to that submodule). The value is cached in the package on first use."""
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        namespace[name] = value
        return value

    return getattr_
