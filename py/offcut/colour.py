"""Colour management: pixels tagged with an ICC profile -> sRGB, in numpy.

Pyodide's Pillow 10.2 is built without LittleCMS (its wheel has no ``PIL._imagingcms``), so
``ImageCms`` cannot run in the browser. This module reads the profiles photos carry —
matrix/TRC RGB profiles (Adobe RGB, Display P3, ProPhoto, camera profiles), grey TRC profiles
and lut8/lut16 profiles (most CMYK profiles) — and converts to sRGB with the same float32 maths
in the browser and on CPython, so both give the same pixels. Profiles it cannot read
(ICC v4 ``mAB`` luts, named colour...) go through ``ImageCms`` where Pillow has it (CPython),
and are otherwise left as they are (the pixels are taken as sRGB).

Everything after decoding works in sRGB: outputs carry :func:`srgb_profile`, and background
colours (``#rrggbb``) are sRGB values.
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass

import numpy as np

#: PCS white (D50), as ICC profiles store it.
D50 = np.array([0.9642, 1.0, 0.8249], dtype=np.float64)
D65_XY = (0.3127, 0.3290)
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
#: Pixels per band: keeps the float32 temporaries to a few MB whatever the image size.
BAND_PIXELS = 1 << 18


class UnsupportedProfile(ValueError):
    """A profile this module does not read (the caller falls back or keeps the pixels)."""


# ------------------------------------------------------------------------------ sRGB maths


def srgb_decode(values: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def srgb_encode(values: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB-encoded values."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def primaries_matrix(primaries, white_xy=D65_XY) -> np.ndarray:
    """RGB -> XYZ (D50 PCS, Bradford-adapted, as ICC colorant tags hold it) for a colour space
    given by its primaries' and white's xy chromaticities.

    Returns
    -------
    ndarray of float64, shape (3, 3); columns are the red, green and blue colorants.
    """

    def xyz(x, y):
        return np.array([x / y, 1.0, (1 - x - y) / y])

    columns = np.stack([xyz(*p) for p in primaries], axis=1)
    white = xyz(*white_xy)
    scale = np.linalg.solve(columns, white)
    to_xyz = columns * scale
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                         [0.0389, -0.0685, 1.0296]])
    gain = (bradford @ D50) / (bradford @ white)
    adapt = np.linalg.inv(bradford) @ np.diag(gain) @ bradford
    return adapt @ to_xyz


SRGB_TO_XYZ = primaries_matrix(SRGB_PRIMARIES)
XYZ_TO_SRGB = np.linalg.inv(SRGB_TO_XYZ)


@functools.lru_cache(maxsize=1)
def _encode_table() -> np.ndarray:
    """Linear [0, 1] in 16384 steps -> sRGB uint8 (0.2 of a level at worst, near black)."""
    return np.round(srgb_encode(np.linspace(0.0, 1.0, 16384)) * 255).astype(np.uint8)


def _linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    index = np.clip(linear, 0.0, 1.0) * np.float32(_STEPS) + np.float32(0.5)
    return _encode_table()[index.astype(np.int32)]


# ------------------------------------------------------------------------------ reading ICC


def profile_space(data: bytes | None) -> str | None:
    """The colour space an ICC profile describes ("RGB", "GRAY", "CMYK"...), None if not ICC."""
    if not data or len(data) < 128 or data[36:40] != b"acsp":
        return None
    return data[16:20].decode("latin-1").strip()


def _s15(data: bytes, offset: int, count: int) -> np.ndarray:
    return np.array(struct.unpack_from(f">{count}i", data, offset), dtype=np.float64) / 65536


def _curve_table(tag: bytes) -> np.ndarray:
    """A TRC tag ('curv' or 'para') sampled at the 256 8-bit input levels, in [0, 1]."""
    x = np.linspace(0.0, 1.0, 256)
    kind = tag[:4]
    if kind == b"curv":
        (count,) = struct.unpack_from(">I", tag, 8)
        if count == 0:
            return x
        if count == 1:
            return x ** (struct.unpack_from(">H", tag, 12)[0] / 256)
        table = np.frombuffer(tag, dtype=">u2", count=count, offset=12) / 65535
        return np.interp(x, np.linspace(0.0, 1.0, count), table)
    if kind == b"para":
        (function,) = struct.unpack_from(">H", tag, 8)
        counts = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
        if function not in counts:
            raise UnsupportedProfile(f"parametric curve type {function}")
        p = list(_s15(tag, 12, counts[function])) + [0.0] * 7
        g, a, b, c, d, e, f = p[:7]
        if function == 0:
            return x**g
        if function in (1, 2):
            base = np.maximum(a * x + b, 0.0) ** g
            start = -b / a if a else 0.0
            offset = c if function == 2 else 0.0
            return np.where(x >= start, base + offset, offset)
        linear = c * x + (f if function == 4 else 0.0)
        curved = np.maximum(a * x + b, 0.0) ** g + (e if function == 4 else 0.0)
        return np.where(x >= d, curved, linear)
    raise UnsupportedProfile(f"curve type {kind!r}")


def _description(tags: dict, data: bytes) -> str:
    found = tags.get(b"desc")
    if found is None:
        return ""
    tag = data[found[0] : found[0] + found[1]]
    try:
        if tag[:4] == b"desc":
            (count,) = struct.unpack_from(">I", tag, 8)
            return tag[12 : 12 + count].split(b"\0")[0].decode("latin-1").strip()
        if tag[:4] == b"mluc":
            length, offset = struct.unpack_from(">II", tag, 20)
            return tag[offset : offset + length].decode("utf-16-be", "replace").strip("\0 ")
    except (struct.error, UnicodeDecodeError):
        return ""
    return ""


@dataclass
class Profile:
    """What a source's ICC profile says about its pixels, ready to convert them to sRGB.

    Attributes
    ----------
    space : {"RGB", "GRAY", "CMYK", ...}
    name : str
        The profile's description, for messages and ``Decoded.info``.
    is_srgb : bool
        Already sRGB (within 8-bit precision): nothing to do.
    """

    space: str
    name: str
    is_srgb: bool = False
    curves: np.ndarray | None = None  # float32 (channels, 256): 8-bit input -> linear
    matrix: np.ndarray | None = None  # float32 (3, 3): linear source -> linear sRGB
    lut: dict | None = None  # lut8/lut16 tables, see _read_lut


def read_profile(data: bytes | None) -> Profile | None:
    """Parse an embedded ICC profile; None when there is none.

    Raises
    ------
    UnsupportedProfile when the profile is damaged or of a kind this module does not convert.
    """
    space = profile_space(data)
    if space is None:
        if data:
            raise UnsupportedProfile("not an ICC profile")
        return None
    try:
        (count,) = struct.unpack_from(">I", data, 128)
        tags = {}
        for number in range(count):
            signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * number)
            if offset + size > len(data):
                raise UnsupportedProfile(f"tag {signature!r} runs past the profile's end")
            tags[signature] = (offset, size)
        name = _description(tags, data)
        pcs = data[20:24]

        def tag(signature: bytes) -> bytes:
            offset, size = tags[signature]
            return data[offset : offset + size]

        lut_tag = tags.get(b"A2B0") and tag(b"A2B0")
        if lut_tag and lut_tag[:4] in (b"mft1", b"mft2"):
            return Profile(space, name, lut=_read_lut(lut_tag, pcs))
        if space == "RGB" and all(t in tags for t in (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC")):
            colorants = np.stack([_s15(tag(t), 8, 3) for t in (b"rXYZ", b"gXYZ", b"bXYZ")],
                                 axis=1)
            curves = np.stack([_curve_table(tag(t)) for t in (b"rTRC", b"gTRC", b"bTRC")])
            is_srgb = bool(np.abs(colorants - SRGB_TO_XYZ).max() < 0.003 and
                           np.abs(curves - srgb_decode(np.linspace(0, 1, 256))).max() < 0.004)
            return Profile(space, name, is_srgb, curves.astype(np.float32),
                           (XYZ_TO_SRGB @ colorants).astype(np.float32))
        if space == "GRAY" and b"kTRC" in tags:
            curve = _curve_table(tag(b"kTRC"))
            is_srgb = bool(np.abs(curve - srgb_decode(np.linspace(0, 1, 256))).max() < 0.004)
            return Profile(space, name, is_srgb, curve[None].astype(np.float32))
    except (struct.error, ValueError, KeyError, IndexError) as exc:
        if isinstance(exc, UnsupportedProfile):
            raise
        raise UnsupportedProfile(f"damaged profile: {exc}") from exc
    raise UnsupportedProfile(f"a {space} profile without matrix/TRC or lut8/lut16 tags")


def _read_lut(tag: bytes, pcs: bytes) -> dict:
    """An lut8 ('mft1') or lut16 ('mft2') A2B0 tag: input curves, CLUT, output curves."""
    inputs, outputs, grid = tag[8], tag[9], tag[10]
    if outputs != 3 or grid < 2 or pcs not in (b"Lab ", b"XYZ "):
        raise UnsupportedProfile(f"lut with {outputs} outputs, grid {grid}, PCS {pcs!r}")
    if tag[:4] == b"mft1":
        in_entries = out_entries = 256
        offset, dtype, top = 48, np.uint8, 255.0
    else:
        in_entries, out_entries = struct.unpack_from(">HH", tag, 48)
        offset, dtype, top = 52, np.dtype(">u2"), 65535.0
    size = np.dtype(dtype).itemsize

    def take(count):
        nonlocal offset
        values = np.frombuffer(tag, dtype=dtype, count=count, offset=offset)
        offset += count * size
        return values.astype(np.float64) / top

    in_tables = take(inputs * in_entries).reshape(inputs, in_entries)
    clut = take(grid**inputs * outputs).reshape(grid**inputs, outputs)
    out_tables = take(outputs * out_entries).reshape(outputs, out_entries)
    x = np.linspace(0.0, 1.0, 256)
    # Input curves at the 8-bit levels, as CLUT grid coordinates.
    coords = np.stack([np.interp(x, np.linspace(0, 1, in_entries), t) for t in in_tables])
    lut = {"coords": (coords * (grid - 1)).astype(np.float32), "clut": clut.astype(np.float32),
           "grid": grid, "out_tables": out_tables, "pcs": pcs, "lut8": tag[:4] == b"mft1"}
    lut["tables"] = _lut_tables(lut)
    return lut


def _pcs_to_linear_srgb(values: np.ndarray, lut: dict) -> np.ndarray:
    """Lut output in [0, 1] (after the output curves) -> linear sRGB, float32 (N, 3)."""
    if lut["pcs"] == b"XYZ ":
        xyz = values * np.float32(65535 / 32768)  # u1Fixed15: 1.0 is 0x8000
    else:
        # Legacy (v2) Lab encoding: L* 100 is 0xFF00 in lut16, 0xFF in lut8; a*, b* +128.
        if lut["lut8"]:
            lab = values * np.float32(255) * np.array([100 / 255, 1, 1], np.float32)
        else:
            lab = values * np.float32(65535) * np.array([100 / 65280, 1 / 256, 1 / 256],
                                                         np.float32)
        lab[:, 1:] -= np.float32(128)
        fy = (lab[:, 0] + 16) / 116
        fx, fz = fy + lab[:, 1] / 500, fy - lab[:, 2] / 200

        def inverse(t):
            return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))

        xyz = np.stack([inverse(fx), inverse(fy), inverse(fz)], axis=1) * D50.astype(np.float32)
    return xyz.astype(np.float32) @ XYZ_TO_SRGB.T.astype(np.float32)


#: Fixed-point scale of the linear values: the encode table's last index.
_STEPS = 16383


@functools.lru_cache(maxsize=8)
def _channel_tables(curves_key: bytes, matrix_key: bytes) -> np.ndarray:
    """int32 (3 out, 3 in, 256): ``matrix[o, i] * curve_i(v)`` in 1/16383 steps, so that a
    pixel's linear sRGB is three table look-ups and two additions per channel."""
    curves = np.frombuffer(curves_key, dtype=np.float32).reshape(3, 256)
    matrix = np.frombuffer(matrix_key, dtype=np.float32).reshape(3, 3)
    tables = matrix[:, :, None].astype(np.float64) * curves[None].astype(np.float64)
    return np.round(tables * _STEPS).astype(np.int32)


def _lut_tables(lut: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per input channel and corner bit, over the 256 levels: the CLUT offset (int32) and the
    interpolation weight (float32), shapes (inputs, 2, 256)."""
    coords, grid = lut["coords"], lut["grid"]
    inputs = coords.shape[0]
    base = np.minimum(coords.astype(np.int32), grid - 2)
    fraction = coords - base.astype(np.float32)
    strides = (grid ** np.arange(inputs - 1, -1, -1)).astype(np.int32)
    offsets = np.stack([base * strides[:, None], (base + 1) * strides[:, None]], axis=1)
    weights = np.stack([np.float32(1) - fraction, fraction], axis=1)
    return offsets.astype(np.int32), weights.astype(np.float32)


def _convert_band(pixels: np.ndarray, profile: Profile) -> np.ndarray:
    """uint8 (N, channels) -> sRGB uint8 (N, 3)."""
    encode_table = _encode_table()
    if profile.lut is not None:
        lut = profile.lut
        offsets, weights = lut["tables"]
        inputs = pixels.shape[1]
        channels = [np.ascontiguousarray(pixels[:, c]) for c in range(inputs)]
        picked = [[(np.take(offsets[c, bit], channels[c]), np.take(weights[c, bit], channels[c]))
                   for bit in (0, 1)] for c in range(inputs)]
        clut = lut["clut"]
        planes = [np.ascontiguousarray(clut[:, o]) for o in range(3)]
        values = np.zeros((3, pixels.shape[0]), dtype=np.float32)
        for corner in range(1 << inputs):
            bits = [(corner >> (inputs - 1 - c)) & 1 for c in range(inputs)]
            index, weight = picked[0][bits[0]]
            index, weight = index.copy(), weight.copy()
            for c in range(1, inputs):
                index += picked[c][bits[c]][0]
                weight *= picked[c][bits[c]][1]
            for o in range(3):
                values[o] += weight * np.take(planes[o], index)
        tables = lut["out_tables"]
        steps = np.linspace(0.0, 1.0, tables.shape[1])
        values = np.stack([np.interp(values[o], steps, tables[o]) for o in range(3)],
                          axis=1).astype(np.float32)
        return _linear_to_srgb8(_pcs_to_linear_srgb(values, lut))
    if profile.space == "GRAY":
        linear = profile.curves[0][pixels[:, 0]]
        return np.repeat(_linear_to_srgb8(linear)[:, None], 3, axis=1)
    tables = _channel_tables(profile.curves.tobytes(), profile.matrix.tobytes())
    out = np.empty((pixels.shape[0], 3), dtype=np.uint8)
    # Contiguous index arrays make the look-ups about three times faster than strided ones.
    channels = [np.ascontiguousarray(pixels[:, c]) for c in range(3)]
    for o in range(3):
        total = np.take(tables[o, 0], channels[0])
        total += np.take(tables[o, 1], channels[1])
        total += np.take(tables[o, 2], channels[2])
        np.clip(total, 0, _STEPS, out=total)
        out[:, o] = np.take(encode_table, total)
    return out


def to_srgb(pixels: np.ndarray, profile: Profile) -> np.ndarray:
    """Convert pixels described by ``profile`` to sRGB.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (H, W, C)
        C = 3 for an RGB profile, 1 (or HxW) for GRAY, 4 for CMYK.
    profile : Profile

    Returns
    -------
    ndarray of uint8, shape (H, W, 3), C-contiguous
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    flat = pixels.reshape(-1, channels)
    out = np.empty((height * width, 3), dtype=np.uint8)
    for start in range(0, flat.shape[0], BAND_PIXELS):
        out[start : start + BAND_PIXELS] = _convert_band(flat[start : start + BAND_PIXELS],
                                                         profile)
    return out.reshape(height, width, 3)


# ------------------------------------------------------------------------------ writing ICC


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _xyz_tag(values) -> bytes:
    return b"XYZ \0\0\0\0" + struct.pack(">3i", *(int(round(v * 65536)) for v in values))


def _curve_tag(curve) -> bytes:
    if np.isscalar(curve):
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(float(curve) * 256)))
    table = np.round(np.clip(np.asarray(curve, np.float64), 0, 1) * 65535).astype(">u2")
    return b"curv\0\0\0\0" + struct.pack(">I", table.size) + table.tobytes()


def _text_tags(description: str) -> list[tuple[bytes, bytes]]:
    ascii_text = description.encode("ascii", "replace") + b"\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">IIHB", 0, 0, 0, 0) + b"\0" * 67)
    return [(b"desc", desc), (b"cprt", b"text\0\0\0\0No copyright, use freely.\0")]


def build_profile(space: str, pcs: str, tags: list[tuple[bytes, bytes]],
                  device_class: bytes = b"mntr") -> bytes:
    """Assemble an ICC v2.1 profile from (signature, tag data) pairs; identical data is
    stored once (the three TRCs of an RGB profile share their curve)."""
    table, blobs, offsets = [], b"", {}
    start = 128 + 4 + 12 * len(tags)
    for signature, blob in tags:
        if blob not in offsets:
            offsets[blob] = start + len(blobs)
            blobs += _pad(blob)
        table.append(struct.pack(">4sII", signature, offsets[blob], len(blob)))
    size = start + len(blobs)
    header = struct.pack(
        ">I4sI4s4s4s12s4s4sI4s4s8sI12s4s16s28s", size, b"\0\0\0\0", 0x02100000, device_class,
        space.ljust(4).encode(), pcs.ljust(4).encode(), b"\0" * 12, b"acsp", b"\0\0\0\0", 0,
        b"\0\0\0\0", b"\0\0\0\0", b"\0" * 8, 0,
        struct.pack(">3i", *(int(round(v * 65536)) for v in D50)), b"\0\0\0\0", b"\0" * 16,
        b"\0" * 28,
    )
    return header + struct.pack(">I", len(tags)) + b"".join(table) + blobs


def matrix_profile(description: str, colorants: np.ndarray, curve) -> bytes:
    """An RGB matrix/TRC display profile; ``colorants`` (3, 3) as from :func:`primaries_matrix`,
    ``curve`` a gamma or a table of the decoding curve (same for all three channels)."""
    trc = _curve_tag(curve)
    return build_profile("RGB", "XYZ", [
        *_text_tags(description), (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])), (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc),
    ])


def gray_profile(description: str, curve) -> bytes:
    """A GRAY display profile with one TRC (a gamma or a table)."""
    return build_profile("GRAY", "XYZ", [
        *_text_tags(description), (b"wtpt", _xyz_tag(D50)), (b"kTRC", _curve_tag(curve)),
    ])


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """The sRGB profile every export is tagged with (IEC 61966-2.1 primaries and curve)."""
    return matrix_profile("sRGB IEC61966-2.1 (offcut)", SRGB_TO_XYZ,
                          srgb_decode(np.linspace(0.0, 1.0, 1024)))


# ------------------------------------------------------------------------------ fallback


def imagecms_to_srgb(image, icc: bytes):
    """Convert a Pillow image with LittleCMS (CPython's Pillow); None where ImageCms is
    missing (Pyodide) or cannot use the profile."""
    try:
        from PIL import ImageCms
    except ImportError:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
        mode = {"RGBA": "RGB", "LA": "L", "P": "RGB", "PA": "RGB"}.get(image.mode, image.mode)
        return ImageCms.profileToProfile(image.convert(mode), source, target, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, ImportError):
        # Pyodide's Pillow imports ImageCms but has no LittleCMS core: ImportError on use.
        return None
