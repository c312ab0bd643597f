"""`flatline run` keeps its evidence: signals, stale reports, unwritable folders, lost output, orphans."""
import os
import signal
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import FLATLINE

# A scenario that takes a while (a long wait), with an external client that runs until stopped.
SLOW = textwrap.dedent("""\
    name: slow
    client:
      command: [python3, -c, "import time, sys; print('started', flush=True); time.sleep(600)"]
    timeline:
      - wait: 20s
    """)

QUICK = textwrap.dedent("""\
    name: quick
    timeline:
      - after: client connected
        within: 5s
    """)


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def external_pids(marker):
    """PIDs of processes whose command line contains `marker` (our own test children only)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_writes_the_report_and_exits_with_its_status(sig, code):
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "a-quick.yaml", QUICK)
        slow = write(folder, "b-slow.yaml", SLOW)
        junit = os.path.join(folder, "junit.xml")
        with open(junit, "w") as f:
            f.write('<testsuites tests="1" failures="0"></testsuites>')  # a stale green report
        process = subprocess.Popen(
            [FLATLINE, "run", "--junit", junit, "--runs-dir", os.path.join(folder, "runs"), quick, slow],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        assert wait_for(lambda: not os.path.exists(junit)), "the stale report must go at the start"
        # Once the slow scenario is under way, interrupt the run.
        assert wait_for(lambda: external_pids("time.sleep(600)")), "the slow scenario's client never started"
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
        assert process.returncode == code, (out, err)
        with open(junit) as f:
            report = f.read()
        assert 'name="quick"' in report or "quick" in report
        assert "interrupted" in report, report
        assert "scenario" in out and "ERROR" in out, out  # the summary is printed
        assert "interrupted by" in err
        assert wait_for(lambda: not external_pids("time.sleep(600)"), 10), "the client of the interrupted scenario was left running"


def test_an_unwritable_runs_folder_stops_the_run():
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "quick.yaml", QUICK)
        blocker = os.path.join(folder, "file")
        with open(blocker, "w") as f:
            f.write("not a folder")
        result = subprocess.run([FLATLINE, "run", "--runs-dir", os.path.join(blocker, "runs"), quick], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result
        assert "cannot write recordings" in result.stderr


def test_lost_output_is_not_a_success():
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "quick.yaml", QUICK)
        with open("/dev/full", "w") as full:
            result = subprocess.run([FLATLINE, "run", "--no-record", quick], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        assert result.returncode != 0, result
        assert "output was lost" in result.stderr


def test_children_die_with_a_killed_run():
    with tempfile.TemporaryDirectory() as folder:
        slow = write(folder, "slow.yaml", SLOW.replace("time.sleep(600)", "time.sleep(601)"))
        process = subprocess.Popen([FLATLINE, "run", "--no-record", slow], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        assert wait_for(lambda: external_pids("time.sleep(601)"))
        process.kill()  # SIGKILL: no handler runs
        process.wait(timeout=10)
        assert wait_for(lambda: not external_pids("time.sleep(601)"), 10), "an external client outlived a SIGKILLed run"
