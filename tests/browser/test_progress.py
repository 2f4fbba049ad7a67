"""The progress card while the model runs: no endless animation (it draws every frame on the
cores the model needs), the seconds instead, and from the second photo on a bar that fills
with the time the model took here last."""

from __future__ import annotations

import numpy as np
from PIL import Image

from browsing import wait_for_state
from support import subject_photo

#: Records the card at every change of its detail line or bar: the stage shown, the detail,
#: the bar's position (-1 while it shows no amount) and the endless animations running.
WATCH_CARD = """() => {
  window.cardSamples = [];
  const stage = document.getElementById('progress-stage');
  const detail = document.getElementById('progress-detail');
  const bar = document.getElementById('progress-bar');
  const sample = () => window.cardSamples.push({
    stage: stage.textContent, detail: detail.textContent, position: bar.position,
    endless: document.getAnimations().filter((a) => a.playState === 'running'
      && a.effect && a.effect.getComputedTiming().iterations === Infinity).length,
  });
  const observer = new MutationObserver(sample);
  observer.observe(detail, { childList: true, characterData: true, subtree: true });
  observer.observe(bar, { attributes: true });
  observer.observe(stage, { childList: true, characterData: true, subtree: true });
}"""
IN_MODEL = "Finding the subject"


def model_samples(page, photo) -> list[dict]:
    page.evaluate(WATCH_CARD)
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done", timeout_s=300)
    samples = page.evaluate("() => window.cardSamples")
    assert all(s["endless"] == 0 for s in samples), samples
    return [s for s in samples if s["stage"] == IN_MODEL]


def test_the_model_run_shows_time_not_an_animation(recorded_context, base_url, tmp_path):
    context, _ = recorded_context
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    first = subject_photo(tmp_path)
    second = tmp_path / "mirrored.jpg"
    Image.fromarray(np.asarray(Image.open(first).convert("RGB"))[:, ::-1]).save(second)

    # The first photo: nothing is known about the model's time, so the bar shows no amount.
    seen = model_samples(page, first)
    assert seen, "the model stage was never shown"
    assert all(s["position"] == -1 for s in seen), seen
    assert all(s["detail"] == "" or s["detail"].endswith(" s") for s in seen), seen

    # The next one: the bar fills with the time the model took, and says about how long.
    seen = model_samples(page, second)
    assert seen, "the model stage was never shown"
    assert all(0 <= s["position"] < 1 for s in seen), seen
    assert all(s["detail"] == "almost done" or s["detail"].endswith(" s left") for s in seen
               if s["detail"]), seen
    assert any(s["detail"].startswith("about ") for s in seen), seen
