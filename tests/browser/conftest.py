"""Browser tests: reports and the web UI, opened in a real headless Chromium through Playwright.

Chromium is the system's (Debian's ``chromium``; ``$HBBACKTEST_CHROMIUM`` names another
binary); Playwright drives it through ``executable_path`` and never downloads a browser
(``playwright install`` fetches from a CDN that CI cannot reach). Without Chromium or without
Playwright every test here is skipped, with the reason; ``.ci/run`` installs Chromium first.

Every test gets a fresh browser context (``page``) that records console errors, uncaught page
errors and any request that would leave the machine (anything but ``file:``, ``data:``,
``blob:``, ``about:`` and loopback). Such a request is aborted in the browser, and any of the
three fails the test: a self-contained report needs no network, and the UI only its own
server. ``screenshot(page)`` saves ``artifacts/screenshots/<test name>.png``, which CI uploads;
a failing test also leaves ``<test name>-failure.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.kit.server import hbbacktest_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, WebError

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ENV = "HBBACKTEST_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CLI_TIMEOUT_S = 120.0
# Playwright's own waits (selectors, navigation, wait_for_function), per action.
ACTION_TIMEOUT_MS = 20_000
_LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome-error")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

# --- what is missing ---------------------------------------------------------------------------


def find_chromium() -> tuple[str | None, str]:
    """The Chromium binary to drive, and where it came from (or why there is none)."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        path = shutil.which(override)
        if path is None:
            return None, f"${CHROMIUM_ENV}={override!r} is not an executable"
        return path, f"${CHROMIUM_ENV}"
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path, "PATH"
    return None, (
        f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}); install Debian's "
        f"`chromium` (apt-get install chromium; .ci/run does) or set ${CHROMIUM_ENV}"
    )


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not importable ({exc}); pip install -e '.[dev]'"
    path, why = find_chromium()
    return None if path else why


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test of this package, before any fixture runs, when it cannot run here."""
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not ours:
        return
    reason = _missing()
    if reason is None:
        return
    marker = pytest.mark.skip(reason=f"browser tests: {reason}")
    for item in ours:
        item.add_marker(marker)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so ``page`` knows whether the test failed."""
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


# --- the browser ------------------------------------------------------------------------------


def chromium_args() -> list[str]:
    """Command-line switches for a hermetic, headless Chromium."""
    args = [
        # Name resolution fails for every host but loopback, so nothing the pages do (nor
        # Chromium's own background services) can reach the internet; IP literals are
        # caught by the context's route (see `page`).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--no-proxy-server",
        "--no-first-run",
        "--disable-sync",
        "--disable-extensions",
        # No GPU in CI: WebGL traces (scattergl, parcoords) draw with the SwiftShader software
        # renderer, opted into explicitly (Chromium is retiring the implicit fallback to it).
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
    ]
    if os.geteuid() == 0:
        # The sandbox cannot start as root (containers, CI as root): Chromium refuses to run.
        args.append("--no-sandbox")
    return args


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path, why = find_chromium()
    if path is None:  # pragma: no cover - collection skips first
        pytest.skip(why)
    return path


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and every later asyncio.run() in the session (the Hummingbot
# compatibility layer's) would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=chromium_args()
        )
        try:
            yield launched
        finally:
            launched.close()


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: files, inline data, loopback servers."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in _LOCAL_HOSTS


@dataclass
class BrowserLog:
    """What went wrong in a browser context: console errors, page errors, outside requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            origin = f" ({where.get('url')}:{where.get('lineNumber')})" if where else ""
            self.console_errors.append(f"{message.text}{origin}")

    def on_web_error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def on_request(self, request: Request) -> None:
        if not is_local(request.url):
            self.outside_requests.append(f"{request.method} {request.url}")

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"request off this machine: {text}" for text in self.outside_requests]
        )

    def assert_clean(self) -> None:
        """Fail with every problem recorded so far (none allowed: nothing is allowlisted)."""
        problems = self.problems()
        assert not problems, "the browser reported:\n  " + "\n  ".join(problems)


def _test_name(node: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name).strip("-")


def save_screenshot(page: Page, name: str) -> Path:
    """``artifacts/screenshots/<name>.png``, the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(
    browser: Browser, browser_log: BrowserLog, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page in a fresh context; the test fails on any console error, page error or outside request."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.on("console", browser_log.on_console)
    context.on("weberror", browser_log.on_web_error)
    context.on("request", browser_log.on_request)

    def refuse(route: Route) -> None:
        route.abort("blockedbyclient")

    context.route(lambda url: not is_local(url), refuse)
    for stale in SCREENSHOTS.glob(f"{_test_name(request.node)}-failure*.png"):
        stale.unlink()  # from an earlier run of this test
    opened = context.new_page()
    try:
        yield opened
        call = getattr(request.node, "_report_call", None)
        if call is not None and call.failed:
            for index, shown in enumerate(context.pages):
                suffix = "" if index == 0 else f"-{index}"
                save_screenshot(shown, f"{_test_name(request.node)}-failure{suffix}")
        elif call is not None and call.passed:
            browser_log.assert_clean()
    finally:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(page, label="")`` → ``artifacts/screenshots/<test name>[-label].png``."""

    def take(page: Page, label: str = "") -> Path:
        name = _test_name(request.node) + (f"-{label}" if label else "")
        path = save_screenshot(page, name)
        assert path.stat().st_size > 0
        return path

    return take


# --- Plotly charts ----------------------------------------------------------------------------

# Waits until every figure a page declares (report pages: one <script data-figure> each) is
# drawn: a .js-plotly-plot div with Plotly's full layout and its SVG in place.
_FIGURES_DRAWN = """
() => {
  if (document.readyState !== 'complete') return false;
  const declared = document.querySelectorAll('script[type="application/json"][data-figure]');
  const plots = document.querySelectorAll('.js-plotly-plot');
  if (plots.length === 0 || plots.length < declared.length) return false;
  return Array.from(plots).every((el) => el._fullLayout && el._fullData
    && el.querySelector('.main-svg'));
}
"""

# One chart's traces as Plotly holds them: gd.data (what the page passed; arrays may still
# be base64 "typed array specs") and gd._fullData (decoded), plus what was drawn.
_CHART_INFO = """
(el) => {
  const len = (v) => (v != null && typeof v.length === 'number' && typeof v !== 'string')
    ? v.length : null;
  const full = el._fullData || [];
  const traces = (el.data || []).map((t, i) => {
    const f = full.find((d) => d.index === i) || {};
    const dims = f.dimensions || t.dimensions || null;
    return {
      type: f.type || t.type || 'scatter',
      name: t.name == null ? null : String(t.name),
      legendgroup: f.legendgroup || t.legendgroup || null,
      mode: f.mode || t.mode || null,
      visible: f.visible === undefined ? true : f.visible,
      x: len(f.x) ?? len(t.x),
      y: len(f.y) ?? len(t.y),
      z: len(f.z) ?? len(t.z),
      dimensions: dims ? dims.length : null,
      dimension_values: dims ? dims.map((d) => len(d.values)) : null,
    };
  });
  const box = el.getBoundingClientRect();
  return {
    id: el.id,
    traces: traces,
    svg_traces: el.querySelectorAll('.main-svg g.trace').length,
    heatmap_images: el.querySelectorAll('g.hm image').length,
    parcoords: el.querySelectorAll('.parcoords-line-layers, .parcoords').length,
    gl_canvases: Array.from(el.querySelectorAll('canvas')).filter(
      (c) => c.width > 0 && c.height > 0).length,
    width: box.width,
    height: box.height,
  };
}
"""


@dataclass(frozen=True)
class Chart:
    """A drawn Plotly chart, as read from the browser."""

    id: str
    traces: list[dict[str, Any]]
    svg_traces: int
    heatmap_images: int
    parcoords: int
    gl_canvases: int
    width: float
    height: float

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [trace for trace in self.traces if trace["type"] in types]

    def assert_drawn(self) -> None:
        """It has a size, traces, and something drawn for them (SVG traces or WebGL canvases)."""
        assert self.width > 0 and self.height > 0, f"chart {self.id} has no size"
        assert self.traces, f"chart {self.id} has no traces"
        assert self.svg_traces + self.heatmap_images + self.gl_canvases > 0, (
            f"chart {self.id}: traces {self.traces} but nothing drawn"
        )


def charts(page: Page) -> dict[str, Chart]:
    """Every Plotly chart on the page by element id, once all of them are drawn."""
    page.wait_for_function(_FIGURES_DRAWN)
    found = {}
    for handle in page.query_selector_all(".js-plotly-plot"):
        info = handle.evaluate(_CHART_INFO)
        found[info["id"]] = Chart(**info)
    return found


@pytest.fixture(scope="session")
def read_charts() -> Callable[[Page], dict[str, Chart]]:
    """``read_charts(page)`` → every drawn Plotly chart on the page, by element id."""
    return charts


# --- the command line -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """``python -m hbbacktest …`` in a subprocess, offline, on its own data dir."""

    data_dir: Path
    env: dict[str, str]

    def __call__(
        self, *args: str | Path, cwd: Path | None = None, expect: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """Run it; assert its exit code is ``expect`` (None: any), with its output if not."""
        command = [sys.executable, "-m", "hbbacktest", *map(str, args)]
        done = subprocess.run(
            command,
            cwd=cwd or self.data_dir.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        assert expect is None or done.returncode == expect, (
            f"{' '.join(command[2:])} exited {done.returncode} (expected {expect})\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
        return done


@pytest.fixture(scope="session")
def cli_factory(chromium_path: str) -> Callable[[Path], Cli]:
    """``cli_factory(data_dir)`` → a :class:`Cli`; kaleido (PNG export) finds our Chromium too."""

    def make(data_dir: Path) -> Cli:
        data_dir.mkdir(parents=True, exist_ok=True)
        return Cli(data_dir, hbbacktest_env(data_dir, env={"BROWSER_PATH": chromium_path}))

    return make
