"""Small building blocks of a cutout: colours from text, and the RGBA stack.

Blending onto backgrounds lives in :mod:`offcut.effects` (``composite``).
"""

from __future__ import annotations

import numpy as np

from offcut.errors import InvalidOption


def parse_colour(text: str) -> tuple[int, int, int]:
    """``"#rrggbb"``, ``"rrggbb"``, ``"#rgb"`` or ``"white"``/``"black"`` -> (r, g, b)."""
    named = {"white": "ffffff", "black": "000000"}
    value = named.get(text.strip().lower(), text.strip().lstrip("#"))
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    if len(value) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in value):
        raise InvalidOption(f"not a colour: {text!r} (use #rrggbb)")
    return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))


def rgba(foreground: np.ndarray, alpha8: np.ndarray) -> np.ndarray:
    """Stack foreground colours and alpha.

    Parameters
    ----------
    foreground : ndarray of uint8, shape (H, W, 3)
    alpha8 : ndarray of uint8, shape (H, W)

    Returns
    -------
    ndarray of uint8, shape (H, W, 4)
    """
    out = np.empty(alpha8.shape + (4,), dtype=np.uint8)
    out[:, :, :3] = foreground
    out[:, :, 3] = alpha8
    return out
