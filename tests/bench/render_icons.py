#!/usr/bin/env python3
"""Not a benchmark: the one-off script that rendered web/icon.svg into web/icons/
(the PNG icons the manifest and iOS need). Run from the repository root with the test venv."""
import base64
from pathlib import Path

from playwright.sync_api import sync_playwright

svg = Path('web/icon.svg').read_text()
uri = 'data:image/svg+xml;base64,' + base64.b64encode(svg.encode()).decode()
# (file, size, scale of the artwork, background): "any" icons are the artwork as drawn; a
# maskable icon keeps it inside the central 80% safe zone on a full-bleed background; iOS
# rounds the corners itself and shows black behind transparency, so its icon is full bleed.
jobs = [("icon-192.png", 192, 1.0, "transparent"), ("icon-512.png", 512, 1.0, "transparent"),
        ("maskable-192.png", 192, 0.78, "#4f46e5"), ("maskable-512.png", 512, 0.78, "#4f46e5"),
        ("apple-touch-icon.png", 180, 0.9, "#4f46e5")]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    for name, size, scale, bg in jobs:
        page = b.new_page(viewport={"width": size, "height": size})
        art = round(size * scale)
        body = (f"margin:0;background:{bg};width:{size}px;height:{size}px;"
                "display:grid;place-items:center")
        page.set_content(f'<html><body style="{body}">'
                         f'<img src="{uri}" width="{art}" height="{art}"></body></html>')
        page.wait_for_timeout(100)
        page.screenshot(path=f"web/icons/{name}", omit_background=(bg == "transparent"))
        page.close()
    b.close()
