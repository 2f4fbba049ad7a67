"""Edge controls people know from other cutout tools, applied to a finished alpha.

They work on the cutout's alpha (uint8, full size), never on the model: changing one costs
milliseconds to a second, not a model run. Order: shift the edge, make the inside solid,
feather. Pillow's filters do the work (they run in C, in Pyodide too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from offcut.errors import InvalidOption

#: The largest shift or feather, in pixels: past this the user wants another tool.
MAX_PIXELS = 50
#: Alpha from which a pixel counts as part of the subject when making it solid.
SOLID_FROM = 64


@dataclass(frozen=True)
class EdgeOptions:
    """How the cutout's edge is adjusted.

    Attributes
    ----------
    shift : int
        Pixels the edge moves outward (positive) or inward (negative): inward trims a halo.
    feather : float
        Gaussian blur radius of the edge, in pixels (0: as refined).
    solid : bool
        Make the inside of the subject fully opaque (a model that is unsure about a plush toy
        or a glass leaves it half transparent); the edge keeps its soft matte.
    """

    shift: int = 0
    feather: float = 0.0
    solid: bool = False

    def __post_init__(self) -> None:
        if not -MAX_PIXELS <= self.shift <= MAX_PIXELS:
            raise InvalidOption(f"edge shift must be within ±{MAX_PIXELS} px, got {self.shift}")
        if not 0 <= self.feather <= MAX_PIXELS:
            raise InvalidOption(f"feather must be 0..{MAX_PIXELS} px, got {self.feather}")

    @property
    def active(self) -> bool:
        return bool(self.shift or self.feather or self.solid)


def apply_edges(alpha8: np.ndarray, options: EdgeOptions) -> np.ndarray:
    """The alpha with ``options`` applied (a new array; the input is not changed).

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)
    options : EdgeOptions

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    if not options.active:
        return alpha8
    image = Image.fromarray(alpha8, "L")
    if options.shift:
        image = shift_edge(image, options.shift)
    if options.solid:
        image = solidify(image)
    if options.feather:
        image = image.filter(ImageFilter.GaussianBlur(options.feather))
    return np.asarray(image, dtype=np.uint8).copy()


def shift_edge(alpha: Image.Image, pixels: int) -> Image.Image:
    """Grey dilation (``pixels`` > 0) or erosion (< 0) by ``|pixels|``: the soft ramp of the
    edge moves as a whole, so it stays as soft as it was."""
    # One 3x3 pass per pixel: a rank filter of the full size costs its area per pixel.
    step = ImageFilter.MaxFilter(3) if pixels > 0 else ImageFilter.MinFilter(3)
    for _ in range(abs(int(pixels))):
        alpha = alpha.filter(step)
    return alpha


def solidify(alpha: Image.Image) -> Image.Image:
    """Raise the inside of the subject to full opacity, leaving a band along its outline as it
    was (where hair and fur are soft). Holes that show background keep their edges too."""
    width, height = alpha.size
    band = max(2.0, 0.01 * max(width, height))
    inside = alpha.point(lambda value: 255 if value >= SOLID_FROM else 0)
    # A blur then a high threshold is an erosion by about the band (a rank filter that wide
    # would be slow); a second, narrower blur gives the solid part a soft border of its own.
    core = inside.filter(ImageFilter.GaussianBlur(band / 2)).point(
        lambda value: 255 if value >= 250 else 0)
    core = core.filter(ImageFilter.GaussianBlur(band / 4))
    return Image.fromarray(np.maximum(np.asarray(alpha), np.asarray(core)), "L")
