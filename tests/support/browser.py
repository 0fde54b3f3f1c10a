"""Open HTML reports in a real headless Chromium and read back what the page did.

:func:`open_in_chromium` copies a page with a small JavaScript harness inserted first in
its ``<head>``: it records uncaught errors, failed resource loads and ``console.error``
calls, every resource fetched, then, once the page has loaded, the table's row count, the
map's centre and zoom, clicks the first table row and records them again. Chromium
(``--headless --dump-dom``) prints the page's DOM, from which the harness's record is read.
:func:`playwright_chromium` drives the same Chromium through Playwright, for pages that
are used with keys, clicks and downloads (the review page).
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
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


def report_data(page: Path, element: str = "report-data") -> Any:
    """The data a page draws: the JSON of its *element* (a report's ``report-data``)."""
    text = page.read_text("utf-8")
    start = text.index(f'<script id="{element}" type="application/json">')
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


class _DevTools:
    """Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

    Chromium reads commands from its file descriptor 3 and writes replies and events to 4,
    each a JSON message ended by a NUL byte.
    """

    def __init__(self, profile: Path) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed")
        to_chromium, self._commands = os.pipe()
        self._events, from_chromium = os.pipe()

        def descriptors() -> None:
            # In the child, before exec: the pipe's ends become its descriptors 3 and 4.
            ends = os.dup(to_chromium), os.dup(from_chromium)
            for number, end in zip((3, 4), ends, strict=True):
                os.dup2(end, number, inheritable=True)

        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "about:blank",
            ],
            close_fds=False,
            preexec_fn=descriptors,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._events, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result, keeping the events that came before it."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        """Wait for an event (or take it if it already came)."""
        for event in self.events:
            if event.get("method") == method:
                self.events.remove(event)
                return event
        while (event := self._read()).get("method") != method:
            self.events.append(event)
        return event

    def close(self) -> None:
        try:
            self.send("Browser.close")
        finally:
            self.process.wait(timeout=30)
            os.close(self._commands)
            os.close(self._events)


@dataclass
class Evaluation:
    """What an expression gave in a page opened in real time."""

    value: Any
    errors: list[str]
    wall_ms: float


def evaluate_in_chromium(page: Path, expression: str) -> Evaluation:
    """Open a page unmodified in headless Chromium, in real time, and evaluate an expression.

    The browser is started first and the page opened in it with no harness and no virtual
    time, so the page's clocks (``performance.now()``, from navigation start) are its own.

    Args:
        page: the HTML file.
        expression: JavaScript evaluated once the load event has fired; a promise is
            awaited. Its value must be JSON.

    Returns:
        The value; ``errors``: uncaught exceptions and ``console.error`` messages up to
        then; ``wall_ms``: milliseconds from sending the navigation to the value, measured
        outside the browser.
    """
    with tempfile.TemporaryDirectory(prefix="tgdc-browser-") as directory:
        browser = _DevTools(Path(directory) / "profile")
        try:
            target = next(
                t for t in browser.send("Target.getTargets")["targetInfos"] if t["type"] == "page"
            )
            session = browser.send(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )["sessionId"]
            for domain in ("Page", "Runtime"):
                browser.send(f"{domain}.enable", session)
            start = time.perf_counter()
            browser.send("Page.navigate", session, url=page.resolve().as_uri())
            browser.wait_for("Page.loadEventFired")
            result = browser.send(
                "Runtime.evaluate",
                session,
                expression=expression,
                awaitPromise=True,
                returnByValue=True,
            )
            wall_ms = (time.perf_counter() - start) * 1000
        finally:
            browser.close()
    if "exceptionDetails" in result:
        raise AssertionError(f"the expression failed: {result['exceptionDetails']}")
    errors = [
        e["params"]["exceptionDetails"].get("exception", {}).get("description", "")
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
    ] + [
        " ".join(str(a.get("value", a.get("description"))) for a in e["params"]["args"])
        for e in browser.events
        if e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"
    ]
    return Evaluation(result["result"].get("value"), errors, wall_ms)


#: A report's clocks once it has loaded, two animation frames later (the frame that
#: paints the map's canvas and the table, then the next): milliseconds from navigation
#: start to ``ready`` (its script done: map, outlines and table built), ``load`` (the load
#: event finished) and ``painted`` (the first frame showing outlines and table drawn).
PAGE_OPEN = """new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  resolve({
    ready: window.report.ready,
    load: navigation.loadEventEnd,
    painted: performance.now(),
    rows: window.report.rows,
  });
})))"""


#: Chromium's flags for pages driven by Playwright: no sandbox (tests may run as root),
#: no GPU, and nothing fetched in the background (the pages must work offline).
PLAYWRIGHT_FLAGS = (
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextlib.contextmanager
def playwright_chromium() -> Iterator[Any]:
    """Debian's Chromium (:data:`CHROMIUM`) driven by Playwright for Python.

    Playwright's own browser downloads are never used: the executable is the system's.

    Yields:
        A Playwright ``Browser``.
    """
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(PLAYWRIGHT_FLAGS))
        try:
            yield browser
        finally:
            browser.close()
