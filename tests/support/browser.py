"""Open HTML reports in a real headless Chromium and read back what the page did.

:func:`open_in_chromium` copies a page with a small JavaScript harness inserted first in
its ``<head>``: it records uncaught errors, failed resource loads and ``console.error``
calls, every resource fetched, then, once the page has loaded, the table's row count, the
map's centre and zoom, clicks the first table row and records them again. Chromium
(``--headless --dump-dom``) prints the page's DOM, from which the harness's record is read.
"""

import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The Chromium executable, or None where none is installed.
CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)

HARNESS = r"""<script>
window.__harness = { errors: [], resources: [] };
window.addEventListener("error", function (event) {
  const element = event.target && event.target !== window ? event.target : null;
  const target = element ? " (" + (element.src || element.href) + ")" : "";
  window.__harness.errors.push(String(event.message || "resource failed") + target);
}, true);
window.addEventListener("unhandledrejection", function (event) {
  window.__harness.errors.push("unhandled rejection: " + event.reason);
});
(function () {
  const original = console.error;
  console.error = function () {
    window.__harness.errors.push(Array.from(arguments).join(" "));
    original.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  setTimeout(function () {
    const h = window.__harness;
    const map = window.report.map;
    h.loaded = performance.now();
    h.ready = window.report.ready;
    h.rows = document.querySelectorAll("#body tr").length;
    h.before = { center: map.getCenter(), zoom: map.getZoom() };
    const first = document.querySelector("#body tr td");
    if (first) first.click();
    h.after = { center: map.getCenter(), zoom: map.getZoom() };
    const chosen = document.querySelectorAll("#body tr.selected");
    h.selected = Array.from(chosen).map((tr) => tr.dataset.id);
    const canvas = document.querySelector("#thumb canvas");
    h.thumbnail = canvas ? { width: canvas.width, height: canvas.height } : null;
    const order = () =>
      Array.from(document.querySelectorAll("#body tr")).map((tr) => Number(tr.dataset.id));
    const area = document.querySelector('#head th[data-key="area_m2"]');
    if (area) {
      area.click();
      h.area_first_click = order();
      area.click();
      h.area_second_click = order();
    }
    h.resources = performance.getEntriesByType("resource").map((entry) => entry.name);
    const out = document.createElement("pre");
    out.id = "harness-result";
    out.textContent = JSON.stringify(h);
    document.body.appendChild(out);
  }, 100);
});
</script>"""

#: Window size of the headless browser, in pixels.
WINDOW = (1280, 800)


def _chromium(*arguments: str, profile: Path, timeout: float = 300) -> str:
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *arguments,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=True
    ).stdout


@dataclass
class PageRun:
    """What a report did in the browser."""

    record: dict[str, Any]
    seconds: float


def open_in_chromium(page: Path, *, budget_ms: int = 10_000) -> PageRun:
    """Open a report with the harness in headless Chromium.

    Returns:
        The harness's record and the wall-clock seconds Chromium ran.
    """
    with tempfile.TemporaryDirectory(prefix="tgdc-browser-") as directory:
        copy = Path(directory) / page.name
        copy.write_text(page.read_text("utf-8").replace("<head>", "<head>" + HARNESS, 1), "utf-8")
        start = time.perf_counter()
        dom = _chromium(
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            copy.as_uri(),
            profile=Path(directory) / "profile",
        )
        seconds = time.perf_counter() - start
    match = re.search(r'<pre id="harness-result">(.*?)</pre>', dom, re.S)
    if match is None:
        raise AssertionError(f"the harness left no record; the page's DOM ends: {dom[-500:]}")
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return PageRun(json.loads(text.replace("&amp;", "&")), seconds)


def report_data(page: Path) -> dict[str, Any]:
    """The data a report page draws: its ``report-data`` JSON."""
    text = page.read_text("utf-8")
    start = text.index('<script id="report-data" type="application/json">')
    body = text[text.index(">", start) + 1 : text.index("</script>", start)]
    return json.loads(body.replace("<\\/", "</"))


def screenshot(page: Path, output: Path) -> Path:
    """Save a PNG screenshot of a page as Chromium shows it."""
    with tempfile.TemporaryDirectory(prefix="tgdc-browser-") as directory:
        _chromium(
            "--virtual-time-budget=5000",
            "--hide-scrollbars",
            f"--screenshot={output.resolve()}",
            page.resolve().as_uri(),
            profile=Path(directory) / "profile",
        )
    return output
