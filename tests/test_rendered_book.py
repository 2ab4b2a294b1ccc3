"""The rendered book holds up: every HTML page opens in headless Chromium without tracebacks or error
output, every image displays, every internal link resolves, no code cell runs wider than the page, the
text reads clean (no repeated paragraphs, raw markdown, typographic dashes in code or log lines: see
tests/render_checks.py), and a screenshot of each page is saved.

The chapters are executed once per session at coarse settings (the ``coarse_book`` fixture of
conftest.py, shared with tests/test_book.py), the HTML is built with the same command ``icegrad book``
uses (:func:`icegrad.book.build_html`, warnings are errors), served on localhost, and driven with
Playwright over Debian's ``chromium``; every request to another host is refused, so a page that
needs the network to display shows it here.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

from icegrad import book
from tests import render_checks

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ERROR_TEXT = ("Traceback (most recent call last)", "could not find glue", "Error in rendering")
# myst-nb gives error outputs and tracebacks these classes; sphinx marks failed references "problematic"
ERROR_SELECTOR = ".output.error, .output.traceback, .problematic, .system-message"


# the first line of every displayed code cell whose code is wider than the cell (a horizontal scroll bar)
WIDE_CODE_JS = """() => [...document.querySelectorAll("div.cell_input pre")]
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
  .map(pre => pre.innerText.split("\\n")[0].slice(0, 80))"""


# every <img> (hidden ones too: lazy loading switched off), once loaded or failed: (src, displays)
IMAGES_JS = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); setTimeout(done, 10000); })));
  return images.map(img => [img.getAttribute("src") || "", img.complete && img.naturalWidth > 0]);
}"""


@pytest.fixture(scope="module")
def sync_api():
    """Playwright's API with Debian's chromium, or a skip naming what to install (before any build)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found; install Debian's browser with: apt-get install -y chromium")
    return pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")


@pytest.fixture(scope="module")
def html(coarse_book) -> Path:
    for notebook in book.chapters(ROOT):
        coarse_book.execute(notebook)
    return book.build_html(coarse_book.stage, coarse_book.stage.parent)


@pytest.fixture(scope="module")
def server(html: Path) -> Iterator[str]:
    """``html`` served on a free localhost port."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_page_styling_is_registered_and_staged(tmp_path: Path) -> None:
    """The CSS _config.yml registers exists where Sphinx looks for it: in the staged copy of the book."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    book.stage_sources(ROOT, tmp_path / "stage")
    sheets = [tmp_path / "stage" / folder / name for folder in config["html_static_path"]
              for name in config["html_css_files"]]
    staged = [sheet for sheet in sheets if sheet.is_file()]
    assert len(staged) == len(config["html_css_files"]) >= 1, f"registered style sheets not staged: {sheets}"
    assert "white-space: pre-wrap" in "".join(sheet.read_text() for sheet in staged)


def pages(html: Path) -> list[Path]:
    """Every HTML page of the book (not the theme's assets or the copied sources)."""
    return sorted(p for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith(("_static", "_sources")))


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    text = page.read_text(errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def broken_links(html: Path, page_url: str, hrefs: list[str], origin: str) -> list[str]:
    """Links of the page at ``page_url`` into the book whose file or anchor does not exist in ``html``."""
    broken = []
    for href in hrefs:
        url = urljoin(page_url, href)
        if not url.startswith(origin + "/"):
            continue  # external (another site, mailto:): not the book's to resolve
        parts = urlsplit(url)
        path = unquote(parts.path)
        target = html / path.lstrip("/")
        if path.endswith("/") or target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {path})")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
            broken.append(f"{href} (no anchor #{parts.fragment} in {path})")
    return broken


@pytest.mark.slow
@pytest.mark.xdist_group("book")
def test_every_page_renders_without_errors_with_images_and_links(sync_api, html: Path, server: str) -> None:
    shots = html.parent / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir()
    problems: dict[str, list[str]] = {}
    redirects = 0
    all_pages = pages(html)
    assert any(p.name == "10_explore.html" for p in all_pages) or not any(
        "10_explore" in f for f in book.toc_files(ROOT)), "a toc chapter has no page"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # the book must display from this server alone; nothing else is contacted
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
                      else route.abort())
        page = context.new_page()
        for path in all_pages:
            relative = path.relative_to(html).as_posix()
            url = f"{server}/{relative}"
            redirect = re.search(r'http-equiv="refresh" content="\d+;\s*url=([^"]+)"', path.read_text(), re.I)
            if redirect:  # index.html only sends the reader to the root chapter: that target must exist
                redirects += 1
                if broken := broken_links(html, url, [redirect.group(1)], server):
                    problems[relative] = broken
                continue
            page.goto(url, wait_until="load")
            found = []
            text = page.inner_text("body")
            found += [f"page text contains {marker!r}" for marker in ERROR_TEXT if marker in text]
            errors = page.locator(ERROR_SELECTOR)
            found += [f"error element: {errors.nth(i).inner_text()[:200]!r}" for i in range(errors.count())]
            found += [f"image does not display: {src[:120]!r}" for src, shown in page.evaluate(IMAGES_JS)
                      if not shown]
            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
            found += broken_links(html, url, hrefs, server)
            found += [f"code cell wider than the page: {line!r}" for line in page.evaluate(WIDE_CODE_JS)]
            found += render_checks.text_problems(path.read_text(errors="replace"))
            page.screenshot(path=str(shots / f"{relative.replace('/', '__')}.png"), full_page=True)
            if found:
                problems[relative] = found
        browser.close()
    if (ROOT / "_build").is_dir() or ROOT.joinpath(".git").exists():  # running in the repository
        shutil.copytree(shots, ROOT / "_build" / "screenshots", dirs_exist_ok=True)
    assert len(list(shots.glob("*.png"))) == len(all_pages) - redirects
    assert not problems, "\n".join(f"{page}: {p}" for page, found in problems.items() for p in found)
