"""Edge controls on a finished alpha (issue 23, item 6): shift, solid inside, feather; they
reuse the cutout, and "refine edges" on or off reuses the model's output."""

import io

import numpy as np
import pytest
from PIL import Image

from offcut import pipeline
from offcut.decode import Decoded
from offcut.edges import EdgeOptions, apply_edges
from offcut.errors import InvalidOption


def disc(size=200, radius=60, inside=255, ramp=4.0) -> np.ndarray:
    """A disc of alpha ``inside`` with a soft rim ``ramp`` px wide, uint8."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    distance = np.hypot(xx - size / 2, yy - size / 2)
    alpha = np.clip((radius - distance) / ramp, 0.0, 1.0) * inside
    return np.round(alpha).astype(np.uint8)


def area(alpha: np.ndarray) -> int:
    return int((alpha >= 128).sum())


def test_nothing_asked_is_the_same_array():
    alpha = disc()
    assert apply_edges(alpha, EdgeOptions()) is alpha


@pytest.mark.parametrize("pixels", [3, -3])
def test_shift_moves_the_edge_by_that_many_pixels_and_keeps_it_soft(pixels):
    alpha = disc()
    shifted = apply_edges(alpha, EdgeOptions(shift=pixels))
    # The disc's radius changes by about `pixels` (a square step reaches a little further
    # along the diagonals).
    radius = np.sqrt(area(alpha) / np.pi)
    moved = np.sqrt(area(shifted) / np.pi) - radius
    assert pixels - 0.5 <= moved <= pixels * 1.3 + 0.5 if pixels > 0 else \
        pixels * 1.3 - 0.5 <= moved <= pixels + 0.5
    soft = ((shifted > 0) & (shifted < 255)).sum()
    assert soft >= 0.8 * ((alpha > 0) & (alpha < 255)).sum()


def test_solid_makes_a_half_transparent_inside_opaque_and_keeps_the_soft_rim():
    plush = disc(inside=128, ramp=10)  # a model unsure about the whole subject
    solid = apply_edges(plush, EdgeOptions(solid=True))
    centre = solid[80:120, 80:120]
    assert centre.min() == 255
    # The outermost part of the rim and the background are as they were.
    outside = disc(radius=62, ramp=1) == 0
    assert np.array_equal(solid[outside], plush[outside])
    rim = (plush > 0) & (plush < 60)
    assert np.array_equal(solid[rim], plush[rim])


def test_feather_softens_a_hard_edge():
    hard = disc(ramp=0.5)
    soft = apply_edges(hard, EdgeOptions(feather=4))
    band = lambda a: int(((a > 10) & (a < 245)).sum())  # noqa: E731
    assert band(soft) > 3 * band(hard)
    assert soft[100, 100] == 255 and soft[0, 0] == 0


@pytest.mark.parametrize("options", [{"shift": 99}, {"feather": -1}, {"shift": "x"}])
def test_out_of_range_edge_options_are_refused(options):
    with pytest.raises(InvalidOption):
        pipeline.ExportOptions.from_dict({"edges": options})


def plain_cutout() -> pipeline.Cutout:
    rgb = np.zeros((200, 200, 3), np.uint8)
    rgb[...] = (220, 30, 30)
    decoded = Decoded(rgb=rgb, alpha=None, icc_profile=None, info={"width": 200, "height": 200})
    return pipeline.Cutout(foreground=rgb.copy(), alpha=disc(inside=128, ramp=10),
                           decoded=decoded)


def test_a_render_and_its_preview_carry_the_edge_options():
    cutout = plain_cutout()
    options = pipeline.ExportOptions.from_dict({"edges": {"solid": True, "shift": -2}})
    data, _ = pipeline.render(cutout, options)
    alpha = np.asarray(Image.open(io.BytesIO(data)))[..., 3]
    expected = apply_edges(cutout.alpha, options.edges)
    assert np.array_equal(alpha, expected)
    preview = pipeline.preview(cutout, options, max_side=200)
    assert np.array_equal(preview.after[..., 3], expected)
    assert not options.is_plain()


def test_refinish_switches_refinement_without_the_model(records, model_runner, photo):
    _, data = photo
    record = records["u2netp"]
    calls = []
    run = model_runner("u2netp")

    def counted(model_input):
        calls.append(1)
        return run(model_input)

    refined = pipeline.cutout(data, record, counted, refine_edges=True)
    plain = pipeline.refinish(refined, refine_edges=False)
    again = pipeline.refinish(plain, refine_edges=True)
    assert calls == [1]  # one model run for all three
    direct = pipeline.cutout(data, record, run, refine_edges=False)
    assert np.array_equal(plain.alpha, direct.alpha)
    assert np.array_equal(plain.foreground, direct.foreground)
    assert np.array_equal(again.alpha, refined.alpha)
    assert not np.array_equal(plain.alpha, refined.alpha)
    assert pipeline.refinish(again, refine_edges=True) is again


def test_the_cli_applies_the_edge_flags_like_the_page(tmp_path, photo, records, model_runner):
    from offcut import cli

    name, data = photo
    (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    argv = [str(tmp_path / name), "-o", str(out), "--model", "u2netp", "-q"]
    assert cli.main([*argv, "--solid", "--edge-shift", "-3", "--feather", "1.5"]) == 0
    (written,) = out.iterdir()
    alpha = np.asarray(Image.open(written))[..., 3]
    options = pipeline.ExportOptions.from_dict(
        {"edges": {"shift": -3, "feather": 1.5, "solid": True}})
    cutout = pipeline.cutout(data, records["u2netp"], model_runner("u2netp"))
    assert np.array_equal(alpha, apply_edges(cutout.alpha, options.edges))


@pytest.mark.parametrize("argv", [
    ["--edge-shift", "99"], ["--feather", "-2"], ["--shadow-offset", "abc"],
    ["--preset", "custom", "--canvas", "100000x1"], ["--preset", "custom", "--canvas", "800x4"],
])
def test_bad_edge_canvas_and_shadow_flags_are_usage_errors(tmp_path, photo, argv):
    from offcut import cli

    name, data = photo
    (tmp_path / name).write_bytes(data)
    try:
        status = cli.main([str(tmp_path / name), "-o", str(tmp_path / "out"), "--model",
                           "u2netp", *argv])
    except SystemExit as exit_:  # argparse's own usage error
        status = exit_.code
    assert status == 2
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
