"""The HTML pages, opened as a person would: headless Chromium at 1280x800 renders a passing and a
failing run and an index; the page must load without console errors and show every lane, fault
window and expectation (checked through the DOM after its script ran). Screenshots are kept in
.build/reports/screenshots/ as test artefacts."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import textwrap

import pytest

from conftest import FLATLINE

SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "reports", "screenshots")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

PASSING = textwrap.dedent("""\
    name: page-passing
    summary: A pulled cable, detected and healed.
    client:
      heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
      reconnect: {delay: 200ms, connect-timeout: 400ms}
    capture: true
    timeline:
      - after: client heartbeat-acked
      - fault: {type: blackhole, direction: both, name: cable}
      - expect: client disconnected reason=heartbeat-timeout
        within: heartbeat.interval + heartbeat.timeout + 100ms
      - expect-none: client connected
        while: cable
      - at: +800ms
        heal: cable
      - expect: client connected
        within: reconnect.delay + reconnect.connect-timeout + 300ms
    """)

# The same run with a bound no client can meet: one failing expectation.
FAILING = PASSING.replace("page-passing", "page-failing").replace(
    "within: heartbeat.interval + heartbeat.timeout + 100ms", "within: 50ms")


def chromium(*args, timeout=60):
    assert CHROMIUM, "chromium is needed (Debian: apt-get install chromium)"
    profile = tempfile.mkdtemp(prefix="flatline-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--window-size=1280,800", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=3000", *args],
            capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_page(path, shot):
    """The page's DOM after its script ran, its console errors, and a screenshot."""
    url = "file://" + os.path.abspath(path)
    dom = chromium("--dump-dom", url)
    errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error|error", line)]
    os.makedirs(SCREENSHOTS, exist_ok=True)
    target = os.path.join(SCREENSHOTS, shot)
    chromium(f"--screenshot={os.path.abspath(target)}", url)
    assert os.path.getsize(target) > 10_000, "the screenshot is empty"
    return dom.stdout, errors


@pytest.fixture(scope="module")
def runs():
    folder = tempfile.mkdtemp(prefix="flatline-pages-")
    for name, text in (("passing.yaml", PASSING), ("failing.yaml", FAILING)):
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    runs_dir = os.path.join(folder, "runs")
    result = subprocess.run([FLATLINE, "run", "--report", "--capture", "--runs-dir", runs_dir,
                             "--junit", os.path.join(folder, "junit.xml"), folder],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result  # one scenario fails, as written
    assert f"report: {runs_dir}/index.html" in result.stdout
    yield folder, runs_dir
    shutil.rmtree(folder, ignore_errors=True)


def page_of(runs_dir, name):
    pages = glob.glob(os.path.join(runs_dir, name, "*", "report.html"))
    assert len(pages) == 1, pages
    return pages[0]


@pytest.mark.parametrize("name,status", [("page-passing", "passed"), ("page-failing", "failed")])
def test_a_run_page_shows_every_lane_window_and_expectation(runs, name, status):
    _, runs_dir = runs
    page = page_of(runs_dir, name)
    assert os.path.getsize(page) < 500_000
    with open(page) as f:
        source = f.read()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://(?!www\.w3\.org/2000/svg)", source), "the page loads nothing from elsewhere"
    dom, errors = open_page(page, f"{name}.png")
    assert errors == [], errors
    assert 'data-ready="1"' in dom, "the page's script did not finish"
    assert f'id="status">{status}<' in dom
    for lane in ("steps", "client", "proxy", "server", "wire", "checks"):
        assert f'data-lane="{lane}"' in dom, f"lane {lane} missing"
    assert dom.count('class="fault-window"') == 1 and "blackhole both" in dom
    # Every expectation is in the table and drawn; the axis has ticks.
    assert dom.count('<tr class="passed"') + dom.count('<tr class="failed"') == 3
    assert dom.count('<g class="check ') == 3
    assert dom.count('class="axis"') >= 3
    assert 'href="recording.jsonl"' in dom and 'href="capture.pcap"' in dom and "junit.xml" in dom
    if status == "failed":
        # The failing expectation comes first in the table and is drawn in red.
        first_row = re.search(r'<tbody><tr class="(\w+)" data-check="([^"]+)"', dom)
        assert first_row.group(1) == "failed" and first_row.group(2) == "step 3"
        assert '<g class="check failed"' in dom
        assert 'class="tick missed"' in dom or 'class="conn abandoned"' in dom


def test_the_index_lists_failures_first_and_links_each_page(runs):
    _, runs_dir = runs
    index = os.path.join(runs_dir, "index.html")
    dom, errors = open_page(index, "index.png")
    assert errors == []
    rows = re.findall(r'<tr class="(\w+)" data-scenario="([^"]+)"', dom)
    assert rows == [("failed", "page-failing"), ("passed", "page-passing")]
    for link in re.findall(r'href="([^"]+report\.html)"', dom):
        assert os.path.exists(os.path.join(runs_dir, link)), link
    assert "slowest:" in dom and "2 scenarios: 1 passed, 1 failed" in dom


def test_report_redraws_from_the_folder_and_marks_a_cut_recording(runs):
    folder, runs_dir = runs
    page = page_of(runs_dir, "page-passing")
    run_folder = os.path.dirname(page)
    cut = os.path.join(folder, "cut")
    shutil.copytree(run_folder, cut)
    recording = os.path.join(cut, "recording.jsonl")
    with open(recording) as f:
        text = f.read()
    with open(recording, "w") as f:
        f.write(text[: len(text) * 2 // 3])  # killed mid-write: the last line is cut in two
    os.remove(os.path.join(cut, "report.html"))
    result = subprocess.run([FLATLINE, "report", cut], capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), result
    assert "incomplete" in result.stdout
    dom, errors = open_page(os.path.join(cut, "report.html"), "incomplete.png")
    assert errors == []
    assert 'id="incomplete"' in dom and 'data-ready="1"' in dom

    empty = os.path.join(folder, "empty")
    os.makedirs(empty)
    result = subprocess.run([FLATLINE, "report", empty], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no recording.jsonl here" in result.stderr, result

    newer = os.path.join(folder, "newer")
    shutil.copytree(run_folder, newer)
    with open(os.path.join(newer, "recording.jsonl")) as f:
        lines = f.read().split("\n")
    lines[0] = lines[0].replace('"format":1', '"format":99')
    with open(os.path.join(newer, "recording.jsonl"), "w") as f:
        f.write("\n".join(lines))
    result = subprocess.run([FLATLINE, "report", newer], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "recorded by a newer Flatline (recording format 99" in result.stderr, result
