"""offcut: background removal whose pre- and post-processing is plain numpy/Pillow.

The same steps run on CPython (the ``offcut`` command, with onnxruntime) and in the
browser (Pyodide, with onnxruntime-web); only :mod:`offcut.web` knows about the browser.
This module imports nothing heavy so that :mod:`offcut.fetch` runs on a bare Python.
"""

__version__ = "0.1.0"
