"""Page layout (issue 9, items 3, 6 and 7) at 1280x800 and on a 390x844 touch phone, before
and after a result: every control can be reached and is on top where it is (checked after
scrollIntoView and, since scroll-padding can hide an overlap from scrollIntoView, at every
step of scrolling the options with the mouse wheel); on the phone, 44 px touch targets,
14 px text, touch wording and a page that scrolls when swiped over the picture at fit zoom;
no Download before a result; the colour picker only for "Colour"; run details (timings,
backend) only inside a closed <details>; nothing animating while a photo is worked on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browsing import wait_for_state
from support import SHARED_DEV

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}

# Every control a user can aim at, as seen by the user: a radio or checkbox is hit through its
# label, a visually hidden file input through the label that stands for it. The skip link
# only appears while focused.
CONTROLS_JS = """
(root) => {
  const scope = root ? document.querySelector(root) : document.body;
  const selector = 'button, a[href], input, select, textarea, summary, label[for],'
    + ' [role="slider"], [tabindex]:not([tabindex="-1"])';
  const targets = new Set();
  for (const element of scope.querySelectorAll(selector)) {
    if (element.closest('.skip-link')) continue;
    let target = element;
    if (element.matches('input[type="radio"], input[type="checkbox"]')) {
      target = element.closest('label') || element;
    } else if (element.matches('input')) {
      const box = element.getBoundingClientRect();
      if (box.width < 2 || box.height < 2) continue; // stands behind its label[for]
    } else if (element.matches('label[for]')) {
      const control = document.getElementById(element.htmlFor);
      const box = control?.getBoundingClientRect();
      const toggle = control?.matches('[type="radio"], [type="checkbox"]');
      if (control && box.width >= 2 && box.height >= 2 && !toggle) continue;
    }
    if (!target.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const box = target.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) continue;
    targets.add(target);
  }
  return [...targets];
}
"""

NAME_JS = """
(element) => {
  const id = element.id || element.querySelector('input, select')?.id || '';
  const text = (element.textContent || element.getAttribute('aria-label') || '').trim();
  const short = text.slice(0, 30);
  return `${element.tagName.toLowerCase()}${id ? '#' + id : ''} "${short}"`;
}
"""

# Scroll each control into view (nearest edge), then ask what is at its centre.
REACH_JS = f"""
(root) => {{
  const controls = ({CONTROLS_JS})(root);
  const name = {NAME_JS};
  const failures = [];
  for (const control of controls) {{
    control.scrollIntoView({{ block: 'nearest', inline: 'nearest' }});
    const box = control.getBoundingClientRect();
    const x = box.left + box.width / 2;
    const y = box.top + Math.min(box.height, innerHeight) / 2;
    const hit = document.elementFromPoint(x, y);
    if (!(hit && (hit === control || control.contains(hit)))) {{
      failures.push(`${{name(control)}} covered by ${{hit ? name(hit) : 'nothing'}}`);
    }}
  }}
  return {{ count: controls.length, failures }};
}}
"""

# At the current scroll position: every control of the scrolled area whose centre lies in
# the visible part of it must be on top there. On a phone the page scrolls and the picture
# may stay stuck at the top: under it is not the visible part, and it is checked on its own.
STEP_JS = f"""
(scroller) => {{
  const name = {NAME_JS};
  const workspace = document.querySelector('.workspace');
  const stuck = getComputedStyle(workspace).position === 'sticky';
  let top = 0, bottom = innerHeight, left = 0, right = innerWidth, root = null;
  if (scroller) {{
    const element = document.querySelector(scroller);
    const box = element.getBoundingClientRect();
    top = box.top; bottom = box.top + element.clientHeight;
    left = box.left; right = box.left + element.clientWidth;
    root = scroller;
  }} else if (stuck) {{
    top = Math.max(0, workspace.getBoundingClientRect().bottom);
  }}
  // The action bar stuck to the bottom of a phone's screen is on top of what scrolls under
  // it; its own controls are checked wherever it is.
  const bar = document.getElementById('download-box');
  const barStuck = !scroller && bar && !bar.hidden && getComputedStyle(bar).position === 'sticky'
    && bar.getBoundingClientRect().bottom >= innerHeight - 1;
  if (barStuck) bottom = Math.min(bottom, bar.getBoundingClientRect().top);
  const seen = [], failures = [];
  for (const control of ({CONTROLS_JS})(root)) {{
    if (!scroller && stuck && workspace.contains(control)) continue;
    const box = control.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const inBar = barStuck && bar.contains(control);
    if (!inBar && (y < top || y >= bottom || x < left || x >= right)) continue;
    const hit = document.elementFromPoint(x, y);
    // No hit at all: the point is outside what Chromium hit-tests at this instant (seen in a
    // mobile viewport mid-wheel-scroll), which is not a cover. Each control must still be
    // found on top at some step (wheel_unseen).
    if (!hit) continue;
    if (hit === control || control.contains(hit)) seen.push(name(control));
    else failures.push(`${{name(control)}} covered by ${{name(hit)}}`);
  }}
  return {{ seen, failures }};
}}
"""

TARGETS_JS = f"""
() => {{
  const name = {NAME_JS};
  return ({CONTROLS_JS})(null)
    .map((control) => [name(control), control.getBoundingClientRect()])
    .filter(([, box]) => box.width < 43.5 || box.height < 43.5)
    .map(([label, box]) => `${{label}} ${{box.width.toFixed(1)}}x${{box.height.toFixed(1)}}`);
}}
"""

# Every piece of text a user can see, and its computed size.
SMALL_TEXT_JS = """
() => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    const unseen = 'option, script, style, .visually-hidden, .skip-link';
    if (!text || !parent || parent.closest(unseen)) continue;
    if (!parent.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const size = parseFloat(getComputedStyle(parent).fontSize);
    if (size < 13.95) small.push(`${size}px "${text.slice(0, 40)}"`);
  }
  return small;
}
"""

# Technical words: which engine runs, and the run's timings.
JARGON = re.compile(r"WASM|WebGPU|\bthreads?\b|\d\.\d\d s\b")
JARGON_JS = """
(pattern) => {
  const jargon = new RegExp(pattern);
  const shown = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!jargon.test(node.textContent)) continue;
    const parent = node.parentElement;
    if (parent.closest('script, style')) continue;
    const tucked = parent.closest('details:not([open])') && !parent.checkVisibility();
    if (!tucked) shown.push(node.textContent.trim());
  }
  return shown;
}
"""

# Every @keyframes rule in the page's style sheets, with the properties it animates.
KEYFRAMES_JS = """
() => {
  const found = {};
  const walk = (rules) => {
    for (const rule of rules) {
      if (rule instanceof CSSKeyframesRule) {
        const properties = new Set();
        for (const frame of rule.cssRules) {
          for (let i = 0; i < frame.style.length; i += 1) properties.add(frame.style[i]);
        }
        found[rule.name] = [...properties];
      } else if (rule.cssRules) {
        walk(rule.cssRules);
      }
    }
  };
  for (const sheet of document.styleSheets) walk(sheet.cssRules);
  return found;
}
"""

COMPOSITOR_ONLY = {"transform", "opacity"}


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    source = SHARED_DEV / "images" / "046.jpg"
    path = tmp_path_factory.mktemp("layout") / "photo.png"
    if source.exists():
        Image.open(source).convert("RGB").save(path)
    else:
        from skimage import data

        Image.fromarray(data.astronaut()).save(path)
    return path


def open_all(page) -> None:
    """Open every disclosure in the options (sections, licences, run details) so that each
    control in them is checked too."""
    page.evaluate("() => document.querySelectorAll('.sidebar details:not([hidden])')"
                  ".forEach((d) => { d.open = true; })")


def close_optional(page) -> None:
    page.evaluate("() => document.querySelectorAll('.sidebar details:not(.section)')"
                  ".forEach((d) => { d.open = false; })")


def reach(page, root: str | None = None) -> dict:
    return page.evaluate(REACH_JS, root)


def wheel_steps(page, scroller: str | None, at: tuple[float, float]) -> dict:
    """Step through the scrolled area with the mouse wheel, checking at every step; returns
    the controls seen on top at some step and every failure."""
    page.evaluate("(s) => (s ? document.querySelector(s) : document.scrollingElement)"
                  ".scrollTo(0, 0)", scroller)
    position_js = "(s) => (s ? document.querySelector(s) : document.scrollingElement).scrollTop"
    seen, failures = set(), []
    page.mouse.move(*at)
    for _ in range(200):
        step = page.evaluate(STEP_JS, scroller)
        seen.update(step["seen"])
        failures.extend(f for f in step["failures"] if f not in failures)
        before = page.evaluate(position_js, scroller)
        page.mouse.wheel(0, 90)
        # The wheel scrolls asynchronously: wait until the position has moved, or give up
        # (the end has been reached) after a few frames.
        try:
            page.wait_for_function(f"(b) => ({position_js})({json.dumps(scroller)}) !== b",
                                   arg=before, timeout=1000)
        except PlaywrightTimeout:  # the end of the scroll
            break
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() =>"
                      " requestAnimationFrame(r)))")
    return {"seen": seen, "failures": failures}


def controls_of(page, root: str | None) -> set[str]:
    return set(page.evaluate(f"(root) => ({CONTROLS_JS})(root).map({NAME_JS})", root))


def snapshot(page, viewport: str, photo_shown: bool) -> dict:
    """Everything the tests assert on, for the page as it is now."""
    open_all(page)
    result = {"reach": reach(page)}
    if viewport == "desktop":
        scroller, at = ".options-scroll", (1090, 400)
        if not page.locator(scroller).count():  # the layout before sections (main)
            scroller = ".sidebar"
        expected = controls_of(page, scroller)
    else:
        scroller, at = None, (195, 830)
        expected = controls_of(page, ".sidebar") | controls_of(page, ".app-footer")
        result["targets"] = page.evaluate(TARGETS_JS)
        result["small_text"] = page.evaluate(SMALL_TEXT_JS)
    steps = wheel_steps(page, scroller, at)
    result["wheel_failures"] = steps["failures"]
    result["wheel_unseen"] = sorted(expected - steps["seen"])
    close_optional(page)
    page.evaluate("() => document.scrollingElement.scrollTo(0, 0)")
    result["jargon"] = page.evaluate(JARGON_JS, JARGON.pattern)
    result["download_visible"] = page.locator("#download").is_visible()
    result["photo_shown"] = photo_shown
    return result


def run(browser, base_url: str, photo: Path, viewport: str) -> dict:
    context = browser.new_context(**(DESKTOP if viewport == "desktop" else PHONE))
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    before = snapshot(page, viewport, photo_shown=False)
    page.set_input_files("#file-input", str(photo))
    # While the first photo is worked on: which animations run, and what they animate.
    page.wait_for_function("() => document.body.dataset.state === 'processing'")
    animations = page.evaluate(
        "() => document.getAnimations().map((a) => [a.animationName || '',"
        " a.effect.getKeyframes().flatMap((k) => Object.keys(k))])")
    wait_for_state(page, "done", timeout_s=300)
    after = snapshot(page, viewport, photo_shown=True)
    return {"page": page, "context": context, "before": before, "after": after,
            "animations": animations}


@pytest.fixture(scope="module")
def desktop(browser, base_url, photo):
    state = run(browser, base_url, photo, "desktop")
    yield state
    state["context"].close()


@pytest.fixture(scope="module")
def phone(browser, base_url, photo):
    state = run(browser, base_url, photo, "phone")
    yield state
    state["context"].close()


# ---------------------------------------------------------------------------- reachability


@pytest.mark.parametrize("moment", ["before", "after"])
def test_desktop_every_control_is_reachable_and_on_top(desktop, moment):
    found = desktop[moment]
    assert found["reach"]["count"] >= 20
    assert found["reach"]["failures"] == []
    assert found["wheel_failures"] == []
    assert found["wheel_unseen"] == []


@pytest.mark.parametrize("moment", ["before", "after"])
def test_phone_every_control_is_reachable_and_on_top(phone, moment):
    found = phone[moment]
    assert found["reach"]["count"] >= 20
    assert found["reach"]["failures"] == []
    assert found["wheel_failures"] == []
    assert found["wheel_unseen"] == []


# ---------------------------------------------------------------------------- phone


@pytest.mark.parametrize("moment", ["before", "after"])
def test_phone_touch_targets_and_text(phone, moment):
    assert phone[moment]["targets"] == []
    assert phone[moment]["small_text"] == []


def test_phone_speaks_touch(phone):
    page = phone["page"]
    fresh = page.context.new_page()  # the drop zone's words, on a fresh page
    fresh.goto(page.url)
    text = fresh.locator("#drop-zone").inner_text()
    assert "Drop" not in text and "paste" not in text and "Ctrl" not in text
    assert fresh.get_by_text("Choose a photo").is_visible()
    # A plain image picker: phones offer the photo library (and the camera) for it; a
    # `capture` attribute would force the camera.
    picker = fresh.locator("#file-input")
    assert picker.get_attribute("accept") == "image/*"
    assert picker.get_attribute("capture") is None
    fresh.close()


def swipe(page, x: float, y: float, dy: float) -> None:
    cdp = page.context.new_cdp_session(page)
    touch = lambda kind, point=None: cdp.send(  # noqa: E731
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": point[0], "y": point[1]}] if point else []},
    )
    steps = 12
    touch("touchStart", (x, y))
    for i in range(1, steps + 1):
        touch("touchMove", (x, y + dy * i / steps))
    touch("touchEnd")
    cdp.detach()


#: Resolves once the page's scroll position has stayed the same for 300 ms.
SCROLL_SETTLED = """async () => {
    let last = null;
    while (last !== scrollY) {
        last = scrollY;
        await new Promise((resolve) => setTimeout(resolve, 300));
    }
}"""


def test_phone_swipe_over_the_picture_scrolls_the_page_unless_zoomed(phone):
    page = phone["page"]
    page.click("#zoom-fit")
    page.evaluate("() => document.scrollingElement.scrollTo(0, 0)")
    box = page.locator("#viewer").bounding_box()
    assert page.evaluate("() => document.scrollingElement.scrollHeight > innerHeight + 200")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.7
    transform = page.eval_on_selector("#viewer-canvas", "el => el.style.transform")
    swipe(page, x, y, -150)
    page.wait_for_function("() => scrollY > 50", timeout=5000)
    # The picture did not move: the swipe was the page's.
    assert page.eval_on_selector("#viewer-canvas", "el => el.style.transform") == transform

    # Zoomed in, the same swipe moves the image and the page stays put. The first swipe's
    # fling must end first: under load it was still scrolling the page after scrollTo (a
    # full run once read scrollY 5 at the end).
    page.evaluate(SCROLL_SETTLED)
    page.evaluate("() => document.scrollingElement.scrollTo(0, 0)")
    page.evaluate(SCROLL_SETTLED)
    assert page.evaluate("() => scrollY") == 0
    for _ in range(4):
        page.click("#zoom-in")
    transform = page.eval_on_selector("#viewer-canvas", "el => el.style.transform")
    swipe(page, x, y, -150)
    page.wait_for_function(
        "(t) => document.getElementById('viewer-canvas').style.transform !== t", arg=transform,
        timeout=5000)
    assert page.evaluate("() => scrollY") == 0
    page.click("#zoom-fit")


# ---------------------------------------------------------------------------- words and state


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_download_only_with_a_result(request, viewport):
    state = request.getfixturevalue(viewport)
    assert state["before"]["download_visible"] is False
    assert state["after"]["download_visible"] is True


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_run_details_only_inside_a_closed_details(request, viewport):
    state = request.getfixturevalue(viewport)
    for moment in ("before", "after"):
        assert state[moment]["jargon"] == [], moment
    # They are still there, one click away.
    details = state["page"].locator("#run-details")
    assert not details.evaluate("d => d.open")
    text = details.text_content()
    assert "WASM" in text and "threads" in text and re.search(r"model \d+\.\d\d s", text)


def test_colour_picker_only_for_colour(desktop):
    page = desktop["page"]
    picker = page.locator("#bg-colour-value")
    for choice in ("transparent", "white", "blur"):
        page.check(f"#bg-{choice}", force=True)
        assert not picker.is_visible(), choice
    page.check("#bg-colour", force=True)
    assert picker.is_visible() and page.locator("#bg-colour-hex").is_visible()
    page.check("#bg-transparent", force=True)
    assert not picker.is_visible()


def test_closed_sections_say_what_they_hold(desktop):
    page = desktop["page"]
    page.evaluate("() => document.querySelectorAll('details.section').forEach((d) => {"
                  " d.open = ['section-cutout', 'section-background'].includes(d.id); })")
    summary = lambda name: page.text_content(f"[data-summary='{name}']")  # noqa: E731
    assert page.locator("#section-shadow").evaluate("d => d.open") is False
    assert summary("shadow") == "Off" and summary("crop") == "Whole photo"
    assert summary("file") == "PNG"
    page.evaluate("() => { document.getElementById('section-file').open = true; }")
    page.select_option("#format", "webp")
    assert summary("file") == "WebP"
    page.evaluate("() => { document.getElementById('section-crop').open = true; }")
    page.select_option("#preset", "marketplace")  # sets JPEG on a white background
    assert summary("crop") == "Marketplace" and summary("file") == "JPEG"
    assert summary("background") == "White"
    page.select_option("#preset", "none")
    page.select_option("#format", "png")
    # Each model's licence is one click away.
    licences = page.locator("#model-licences")
    assert licences.evaluate("d => d.open") is False
    licences.locator("summary").click()
    text = licences.inner_text()
    assert "Apache-2.0" in text and "AGPL-3.0" in text


# ---------------------------------------------------------------------------- animation


def test_nothing_animates_while_a_photo_is_worked_on(desktop):
    """An endless animation draws every frame, even a compositor-only one, on the cores the
    model needs (a sliding progress band cost IS-Net 7 % of its time on 2 cores). Any
    keyframes there animate compositor properties only."""
    keyframes = desktop["page"].evaluate(KEYFRAMES_JS)
    for name, properties in keyframes.items():
        assert set(properties) <= COMPOSITOR_ONLY, (name, properties)
    assert desktop["animations"] == []
