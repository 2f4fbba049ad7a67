"""Compose a cutout: RGBA, or flattened onto a colour or an image.

All blending is integer arithmetic on uint8 alpha, so CPython and Pyodide give identical
pixels for identical inputs (no float rounding differences between numpy builds).
"""

from __future__ import annotations

import numpy as np

from offcut.errors import InvalidOption

#: Rows per band: bounds the temporaries to a few MB whatever the image size.
BAND_ROWS = 256


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


def flatten(
    foreground: np.ndarray,
    alpha8: np.ndarray,
    background: tuple[int, int, int] | np.ndarray,
) -> np.ndarray:
    """Blend the cutout over an opaque background: ``(fg*a + bg*(255-a) + 127) // 255``.

    Parameters
    ----------
    foreground : ndarray of uint8, shape (H, W, 3)
    alpha8 : ndarray of uint8, shape (H, W)
    background : (r, g, b) or ndarray of uint8, shape (H, W, 3)

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
    """
    height = alpha8.shape[0]
    out = np.empty(foreground.shape, dtype=np.uint8)
    solid = not isinstance(background, np.ndarray)
    bg_colour = np.asarray(background, dtype=np.uint32).reshape(1, 1, 3) if solid else None
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, min(top + BAND_ROWS, height))
        a = alpha8[rows, :, None].astype(np.uint32)
        bg = bg_colour if solid else background[rows].astype(np.uint32)
        mixed = foreground[rows].astype(np.uint32) * a + bg * (255 - a) + 127
        out[rows] = (mixed // 255).astype(np.uint8)
    return out
