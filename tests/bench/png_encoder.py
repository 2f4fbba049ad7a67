"""Is the browser's PNG encoder (OffscreenCanvas.convertToBlob) lossless for a cutout's RGBA?

    python tests/bench/png_encoder.py

Puts every (alpha, colour) pair a cutout can hold through putImageData + convertToBlob in
Chromium, decodes the PNG with Pillow and compares it exactly with the input. Prints how many
pixels differ, by alpha, and the encode times against Pillow's (CPython) for a 12 MP image.
Needs a built dist/ (for a page to run in) and Debian's Chromium. Asserts nothing.
"""

from __future__ import annotations

import base64
import io
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

import build  # noqa: E402

ENCODE_JS = """async ([b64, width, height]) => {
  const pixels = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(pixels, width, height), 0, 0);
  const t0 = performance.now();
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return [btoa(text), seconds];
}"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(3)
    # Every alpha value with many random colours: 256 rows x 1024 columns.
    rgba = rng.integers(0, 256, (256, 1024, 4), dtype=np.uint8)
    rgba[..., 3] = np.arange(256, dtype=np.uint8)[:, None]
    server = build.make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/NOTICES.txt")
        encoded, _ = page.evaluate(ENCODE_JS, [base64.b64encode(rgba.tobytes()).decode(),
                                               1024, 256])
        back = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA"))
        differs = (back != rgba).any(axis=2)
        print(f"pixels differing: {differs.sum()} of {differs.size}")
        for alpha in (0, 1, 2, 8, 32, 64, 128, 200, 254, 255):
            row = differs[alpha]
            error = np.abs(back[alpha, :, :3].astype(int) - rgba[alpha, :, :3]).max()
            print(f"  alpha {alpha:3d}: {row.mean() * 100:5.1f} % of pixels differ, "
                  f"max colour error {error}")
        # Speed at 12 MP (a photo-like opaque image with a transparent border).
        height, width = 3000, 4000
        photo = np.zeros((height, width, 4), np.uint8)
        ys, xs = np.mgrid[:height, :width]
        photo[..., 0], photo[..., 1], photo[..., 2] = xs % 256, ys % 256, (xs + ys) % 256
        photo[300:-300, 400:-400, 3] = 255
        _, seconds = page.evaluate(ENCODE_JS, [base64.b64encode(photo.tobytes()).decode(),
                                               width, height])
        t0 = time.perf_counter()
        buffer = io.BytesIO()
        Image.fromarray(photo, "RGBA").save(buffer, "PNG")
        print(f"12 MP PNG: Chromium convertToBlob {seconds:.2f} s, CPython Pillow "
              f"{time.perf_counter() - t0:.2f} s")
        browser.close()


if __name__ == "__main__":
    main()
