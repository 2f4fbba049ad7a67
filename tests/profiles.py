"""ICC profiles built for the tests (no profile files are shipped), and the colour maths to
check conversions against, written out independently of ``offcut.colour``'s conversion path."""

from __future__ import annotations

import functools
import itertools
import struct

import numpy as np

from offcut import colour

ADOBE_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_GAMMA = 563 / 256  # 2.19921875, as Adobe RGB (1998) profiles store it

#: CMYK inks of the test profile, as the sRGB colour each prints alone on white paper. Not the
#: naive 255-minus conversion: a profile that is ignored gives visibly different pixels.
INKS = {"c": (0, 160, 230), "m": (230, 0, 126), "y": (255, 237, 0), "k": (35, 31, 32)}


def adobe_like() -> bytes:
    return colour.matrix_profile("Adobe RGB (1998)-like test profile",
                                 colour.primaries_matrix(ADOBE_PRIMARIES), ADOBE_GAMMA)


def p3_like() -> bytes:
    return colour.matrix_profile("Display P3-like test profile",
                                 colour.primaries_matrix(P3_PRIMARIES),
                                 _srgb_curve_table(1024))


def gray_linear() -> bytes:
    return colour.gray_profile("Linear grey test profile", 1.0)


def _srgb_curve_table(size):
    x = np.linspace(0, 1, size)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _srgb_linear(rgb8):
    return _srgb_curve_table(256)[np.asarray(rgb8)]


def _encode8(linear):
    linear = np.clip(linear, 0, 1)
    value = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(value * 255).astype(int)


def _rgb_to_xyz_d65(primaries):
    """The textbook RGB -> XYZ matrix for D65 white (no chromatic adaptation)."""
    cols = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    white = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    return cols * np.linalg.solve(cols, white)


XYZ_D65_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                            [-0.9692660, 1.8760108, 0.0415560],
                            [0.0556434, -0.2040259, 1.0572252]])


def expected_from_primaries(rgb8, primaries, decode) -> np.ndarray:
    """sRGB uint8 values (as int) that ``rgb8`` in the given space should become."""
    linear = decode(np.asarray(rgb8, dtype=np.float64) / 255)
    xyz = linear @ _rgb_to_xyz_d65(primaries).T
    return _encode8(xyz @ XYZ_D65_TO_SRGB.T)


def _lab_d50(linear_srgb):
    """Linear sRGB (N, 3) -> CIELAB (N, 3) relative to the D50 PCS white."""
    xyz = np.asarray(linear_srgb) @ colour.SRGB_TO_XYZ.T / colour.D50
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


def ink_colour(c, m, y, k) -> np.ndarray:
    """Linear sRGB of inks laid over each other (amounts 0..1, scalars or arrays of N):
    reflectances multiply. Returns shape (3,) or (N, 3)."""
    linear = np.ones(3)
    for amount, ink in zip((c, m, y, k), "cmyk", strict=True):
        amount = np.asarray(amount, dtype=np.float64)[..., None]
        linear = linear * (1 - amount * (1 - _srgb_linear(INKS[ink])))
    return linear


@functools.lru_cache(maxsize=2)
def cmyk_profile(grid: int = 9) -> bytes:
    """A CMYK output profile with an lut16 A2B0 (Lab PCS) sampling :func:`ink_colour`."""
    nodes = np.array(list(itertools.product(np.linspace(0, 1, grid), repeat=4)))
    lab = _lab_d50(ink_colour(*nodes.T))  # first input (cyan) varies slowest, as ICC wants
    encoded = np.stack([lab[:, 0] / 100 * 65280, (lab[:, 1] + 128) * 256,
                        (lab[:, 2] + 128) * 256], axis=1)
    clut = np.clip(np.round(encoded), 0, 65535).astype(int).reshape(-1).tolist()
    identity = struct.pack(">9i", *(65536 if i in (0, 4, 8) else 0 for i in range(9)))
    tag = (b"mft2\0\0\0\0" + bytes([4, 3, grid, 0]) + identity + struct.pack(">HH", 2, 2)
           + struct.pack(">8H", *([0, 65535] * 4)) + struct.pack(f">{len(clut)}H", *clut)
           + struct.pack(">6H", *([0, 65535] * 3)))
    return colour.build_profile("CMYK", "Lab", [
        *colour._text_tags("CMYK test profile"), (b"wtpt", colour._xyz_tag(colour.D50)),
        (b"A2B0", tag),
    ], device_class=b"prtr")
