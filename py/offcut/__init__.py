"""offcut: background removal whose pre- and post-processing is plain numpy/Pillow.

The same steps run on CPython (the ``offcut`` command, with onnxruntime) and in the
browser (Pyodide, with onnxruntime-web); only :mod:`offcut.web` knows about the browser.
This module imports nothing heavy so that :mod:`offcut.fetch` runs on a bare Python.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type checkers see the real signatures; at run time they load lazily
    from offcut.api import Remover, remove

__all__ = ["Remover", "remove"]


def __getattr__(name: str):
    # Loaded on first use: ``import offcut`` stays free of numpy and Pillow (offcut.fetch runs
    # on a bare Python), while ``offcut.remove`` and ``offcut.Remover`` still just work.
    if name in __all__:
        from offcut import api

        return getattr(api, name)
    raise AttributeError(f"module 'offcut' has no attribute {name!r}")
