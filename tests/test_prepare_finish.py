from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from offcut.errors import ModelOutputError
from offcut.finish import finish, mask_from_output, quantise_alpha
from offcut.prepare import prepare


def test_prepare_u2netp_divides_by_max_then_imagenet(records):
    record = records["u2netp"]
    rgb = np.full((40, 60, 3), 200, np.uint8)
    rgb[0, 0] = 100
    x = prepare(rgb, record)
    assert x.dtype == np.float32 and x.shape == (1, 3, 320, 320) and x.flags.c_contiguous
    # A grey image: after division by the max, every channel's brightest value is 1.0
    # (255 would leave ~0.8), then (1 - mean) / std per channel.
    for channel in range(3):
        expected = (1.0 - record.mean[channel]) / record.std[channel]
        assert x[0, channel].max() == pytest.approx(expected, abs=1e-5)


def test_prepare_isnet_scale(records):
    record = records["isnet-medium"]
    rgb = np.full((10, 10, 3), 64, np.uint8)
    x = prepare(rgb, record)
    assert x.shape == (1, 3, 1024, 1024) and x.dtype == np.float32
    np.testing.assert_allclose(x, (64 - 128) / 256, atol=1e-6)


def _one_view(record):
    return replace(record, flip=False)


def test_mask_minmax(records):
    output = np.linspace(-3, 5, 320 * 320, dtype=np.float32).reshape(1, 1, 320, 320)
    mask = mask_from_output(output, _one_view(records["u2netp"]))
    assert mask.dtype == np.float32 and mask.shape == (320, 320)
    assert mask.min() == 0.0 and mask.max() == 1.0


def test_flat_output_is_empty_mask(records):
    mask = mask_from_output(np.full((320, 320), 0.7, np.float32), _one_view(records["u2netp"]))
    assert mask.max() == 0.0


def test_isnet_output_is_clipped_not_stretched(records):
    output = np.full((1, 1, 1024, 1024), 0.25, np.float32)
    output[..., :10, :] = 1.2
    mask = mask_from_output(output, records["isnet-medium"])
    assert mask[500, 500] == pytest.approx(0.25) and mask.max() == 1.0


def test_wrong_shape_and_nan_are_reported(records):
    with pytest.raises(ModelOutputError):
        mask_from_output(np.zeros((1, 1, 100, 100), np.float32), records["u2netp"])
    bad = np.zeros((320, 320), np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(ModelOutputError):
        mask_from_output(bad, records["u2netp"])


def test_finish_returns_full_resolution_float32(records):
    rgb = np.zeros((123, 457, 3), np.uint8)
    output = np.zeros((320, 320), np.float32)
    output[:, 160:] = 1
    for refine_edges in (False, True):
        alpha = finish(output, _one_view(records["u2netp"]), rgb, refine_edges=refine_edges)
        assert alpha.shape == (123, 457) and alpha.dtype == np.float32
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0
        assert alpha[:, :200].max() < 0.05 and alpha[:, 260:].min() > 0.95


def test_quantise_alpha_rounds_and_applies_source_alpha():
    alpha = np.array([[0.0, 0.5, 1.0, 1.0]], np.float32)
    source = np.array([[255, 255, 255, 128]], np.uint8)
    np.testing.assert_array_equal(quantise_alpha(alpha), [[0, 128, 255, 255]])
    np.testing.assert_array_equal(quantise_alpha(alpha, source), [[0, 128, 255, 128]])


def _published_u2netp_input(rgb, record):
    """u2netp's published preprocessing, written out independently: LANCZOS shrink to
    320x320, divide by the shrunk image's max, ImageNet mean/std, float64 then float32."""
    small = np.asarray(Image.fromarray(rgb, "RGB").resize((320, 320), Image.LANCZOS),
                       dtype=np.float64)
    x = small / small.max()
    x = (x - np.asarray(record.mean)) / np.asarray(record.std)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def test_prepare_u2netp_matches_its_published_pipeline(records):
    # Fine detail is where the shrink filters differ: a bilinear shrink of this image moves
    # inputs by up to ~0.9 (in std units) from the published LANCZOS one.
    rng = np.random.default_rng(7)
    rgb = (rng.random((480, 854, 3)) * 255).astype(np.uint8)
    rgb[100:300, 200:500] = (30, 200, 90)
    x = prepare(rgb, records["u2netp"])
    np.testing.assert_allclose(x, _published_u2netp_input(rgb, records["u2netp"]), atol=2e-5)


def test_flip_record_gives_a_mirrored_second_view(records):
    record = replace(records["u2netp"], flip=True)
    rng = np.random.default_rng(1)
    rgb = (rng.random((50, 80, 3)) * 255).astype(np.uint8)
    x = prepare(rgb, record)
    assert x.shape == (2, 3, 320, 320) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x[1], x[0][:, :, ::-1])


def test_flip_outputs_are_mirrored_back_and_averaged(records):
    record = replace(records["u2netp"], flip=True)
    plain = np.zeros((320, 320), np.float32)
    plain[:, :100] = 1.0  # subject on the left in the plain view
    mirrored = np.zeros((320, 320), np.float32)
    mirrored[:, -100:] = 1.0  # the same subject seen in the mirrored view
    mirrored[:, :20] = 0.5  # a blob only the mirrored view sees (at the right, mirrored back)
    output = np.stack([plain, mirrored])[:, None]
    mask = mask_from_output(output, record)
    assert mask.shape == (320, 320) and mask.dtype == np.float32
    # Both views agree on the subject; the lone blob is halved (then min-max scaled).
    np.testing.assert_array_equal(mask[:, :100], 1.0)
    np.testing.assert_allclose(mask[:, -20:], 0.25)
    np.testing.assert_array_equal(mask[:, 100:300], 0.0)
