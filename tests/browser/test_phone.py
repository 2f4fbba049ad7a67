"""The phone flow ends in the photo library: a Share / Save image button where the browser
can share files, in a bar that stays in reach while options change, with a visible "saved"
line; PNG icons for home screens (issue 23, item 4)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from browsing import open_sections, wait_for_state
from support import subject_photo

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2, "accept_downloads": True}

#: A share sheet stand-in: keeps what it was given (as bytes) in window.shared. The first
#: call can be refused as a browser does when the tap's user activation ran out.
FAKE_SHARE = """
window.shared = [];
window.refuseNextShare = false;
navigator.canShare = (data) => Boolean(data && data.files && data.files.length);
navigator.share = async (data) => {
  if (window.refuseNextShare) {
    window.refuseNextShare = false;
    throw new DOMException('no user activation', 'NotAllowedError');
  }
  for (const file of data.files) {
    window.shared.push({ name: file.name, type: file.type,
                         bytes: Array.from(new Uint8Array(await file.arrayBuffer())) });
  }
};
"""


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return subject_photo(tmp_path_factory.mktemp("phone"))


@pytest.fixture
def phone_page(browser, base_url, photo):
    context = browser.new_context(**PHONE)
    context.add_init_script(FAKE_SHARE)
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")
    yield page
    context.close()


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= 844


def shared_file(page, count: int) -> tuple[str, bytes]:
    page.wait_for_function("n => window.shared.length >= n", arg=count, timeout=60_000)
    item = page.evaluate("n => window.shared[n - 1]", count)
    return item["name"], bytes(item["bytes"])


def download(page) -> tuple[str, bytes]:
    with page.expect_download(timeout=120_000) as info:
        page.locator("#download").tap()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def test_share_saves_the_same_file_as_download_from_a_bar_in_reach(phone_page):
    page = phone_page
    assert page.locator("#share").is_visible()
    # The bar stays on screen wherever the options are scrolled to.
    open_sections(page)
    for fraction in (0.0, 0.5, 1.0):
        page.evaluate("f => window.scrollTo(0, f * document.body.scrollHeight)", fraction)
        page.wait_for_timeout(100)
        assert in_view(page, "#share") and in_view(page, "#download"), fraction
    page.select_option("#format", "webp")
    page.locator("#share").tap()
    name, shared = shared_file(page, 1)
    assert name.endswith("-cutout.webp")
    status = page.locator("#save-status")
    assert status.is_visible() and in_view(page, "#save-status")
    assert name in status.inner_text()
    downloaded_name, downloaded = download(page)
    assert downloaded_name == name and downloaded == shared  # the same file, byte for byte
    assert "downloads" in status.inner_text()
    image = Image.open(io.BytesIO(shared))
    assert image.format == "WEBP" and image.mode == "RGBA"
    # A change of options clears the line: it spoke of the file before the change.
    page.select_option("#format", "png")
    assert status.inner_text() == ""


def test_a_share_refused_for_lack_of_activation_goes_through_on_the_next_tap(phone_page):
    page = phone_page
    page.evaluate("window.refuseNextShare = true")
    page.locator("#share").tap()
    page.wait_for_function(
        "() => document.getElementById('save-status').textContent.includes('again')",
        timeout=60_000)
    page.evaluate("""() => {
        window.progressShown = 0;
        new MutationObserver(() => { if (!document.getElementById('progress').hidden)
            window.progressShown += 1; })
          .observe(document.getElementById('progress'), { attributes: true });
    }""")
    page.locator("#share").tap()
    name, data = shared_file(page, 1)
    assert name.endswith("-cutout.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    # The file rendered for the refused tap is the one shared: no second render.
    assert page.evaluate("window.progressShown") == 0


def test_no_share_button_where_files_cannot_be_shared(browser, base_url, photo):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script("navigator.canShare = () => false;")
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        page.set_input_files("#file-input", str(photo))
        wait_for_state(page, "done")
        assert page.locator("#share").is_hidden()
        assert page.locator("#download").is_visible()
    finally:
        context.close()


def test_home_screen_icons_are_pngs_of_the_sizes_they_claim(browser, base_url):
    context = browser.new_context()
    try:
        manifest = context.request.get(base_url + "/manifest.webmanifest").json()
        purposes = set()
        for icon in manifest["icons"]:
            if icon["type"] != "image/png":
                continue
            image = Image.open(io.BytesIO(context.request.get(f"{base_url}/{icon['src']}").body()))
            assert image.format == "PNG"
            assert f"{image.width}x{image.height}" == icon["sizes"]
            purposes.add(icon["purpose"])
            if icon["purpose"] == "maskable":  # full bleed: no transparent corners to crop
                assert image.mode == "RGB" or image.getchannel("A").getextrema()[0] == 255
        assert purposes == {"any", "maskable"}
        page = context.new_page()
        page.goto(base_url + "/")
        href = page.get_attribute('link[rel="apple-touch-icon"]', "href")
        touch = Image.open(io.BytesIO(context.request.get(f"{base_url}/{href}").body()))
        assert touch.format == "PNG" and touch.size == (180, 180) and touch.mode == "RGB"
    finally:
        context.close()


#: What Android does with the manifest's share_target: a multipart POST of the photo, then the
#: page the answer points to. (A form cannot post it here: the page's CSP has form-action
#: 'none'; Android's POST is the system's navigation, not the page's form.) Returns where the
#: service worker's answer redirects.
SHARE_TO_OFFCUT = """async ([action, name, bytes]) => {
  const form = new FormData();
  form.append('photo', new File([new Uint8Array(bytes)], name, { type: 'image/jpeg' }));
  const response = await fetch(action, { method: 'POST', body: form });
  return response.url;
}"""


def test_a_photo_shared_to_offcut_opens_in_it_and_is_never_uploaded(browser, base_url, photo):
    context = browser.new_context(**PHONE)
    # POSTs the service worker sent on to the network (none may be), and the page's own
    # POST responses with whether the service worker gave them.
    forwarded, answered = [], []
    context.on("request", lambda request: forwarded.append(request.url)
               if request.method == "POST" and request.service_worker else None)
    context.on("response", lambda response: answered.append(response.from_service_worker)
               if response.request.method == "POST" else None)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
        manifest = context.request.get(base_url + "/manifest.webmanifest").json()
        target = manifest["share_target"]
        assert target["method"] == "POST" and target["params"]["files"][0]["name"] == "photo"
        opened = page.evaluate(SHARE_TO_OFFCUT,
                               [target["action"], photo.name, list(photo.read_bytes())])
        assert opened.endswith("/?shared=1"), opened
        page.goto(opened)
        wait_for_state(page, "done")
        width, height = Image.open(photo).size
        assert page.inner_text("#result-size").startswith(f"{width} × {height} px")
        assert "shared" not in page.url  # a reload does not take the photo again
        # The POST was answered on this device: the server never saw it.
        assert forwarded == [] and answered and all(answered), (forwarded, answered)
    finally:
        context.close()
