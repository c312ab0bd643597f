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


def run_scenario(folder, path, *extra):
    runs = os.path.join(folder, "runs")
    result = subprocess.run([FLATLINE, "run", "--runs-dir", runs, *extra, path], capture_output=True, text=True, timeout=120)
    recordings = []
    for root, _, files in os.walk(runs):
        recordings += [os.path.join(root, f) for f in files if f == "recording.jsonl"]
    return result, sorted(recordings)


def test_replay_knows_a_cut_recording_and_guards_edits():
    scenario = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "pulled-cable.yaml")
    with tempfile.TemporaryDirectory() as folder:
        result, recordings = run_scenario(folder, scenario)
        assert result.returncode == 0, result.stdout + result.stderr
        recording = recordings[-1]
        whole = subprocess.run([FLATLINE, "replay", recording], capture_output=True, text=True, timeout=60)
        assert whole.returncode == 0, whole.stdout + whole.stderr
        assert "≠" not in whole.stdout and "incomplete" not in whole.stderr
        with open(recording) as f:
            lines = f.readlines()
        cut = os.path.join(folder, "cut.jsonl")
        with open(cut, "w") as f:
            f.writelines(lines[: len(lines) // 2])  # cut at a line boundary: still valid JSON lines
        replayed = subprocess.run([FLATLINE, "replay", cut], capture_output=True, text=True, timeout=60)
        assert replayed.returncode == 2, replayed.stdout + replayed.stderr
        assert "incomplete" in replayed.stderr
        # An edited scenario that acts differently cannot be judged against this run.
        with open(scenario) as f:
            text = f.read()
        edited = write(folder, "edited.yaml", text.replace("at: +1200ms\n    heal: cable", "at: +3s\n    heal: cable"))
        refused = subprocess.run([FLATLINE, "replay", "--scenario", edited, recording], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "does not do what the recorded run did" in refused.stderr, refused.stderr
        forced = subprocess.run([FLATLINE, "replay", "--force", "--scenario", edited, recording], capture_output=True, text=True, timeout=60)
        assert forced.returncode in (0, 1), forced.stderr


FLOOD = textwrap.dedent("""\
    name: flood
    client:
      command: [python3, -c, "import sys\\nfor i in range(150000): sys.stdout.write('noise %d\\\\n' % i)\\nsys.stdout.flush()\\nimport time; time.sleep(30)"]
    timeline:
      - after: client output-truncated
        within: 20s
    """)


def test_a_client_that_floods_its_output_is_cut_and_the_run_goes_on():
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, "flood.yaml", FLOOD)
        started = time.monotonic()
        result, recordings = run_scenario(folder, path)
        assert time.monotonic() - started < 60
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr
        with open(recordings[-1]) as f:
            text = f.read()
        assert '"type":"output-truncated"' in text
        assert text.count('"type":"output"') <= 100_000


def test_the_run_says_where_its_folder_is_and_replay_finds_the_last_one():
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "quick.yaml", QUICK)
        runs = os.path.join(folder, "runs")
        result = subprocess.run([FLATLINE, "run", "--runs-dir", runs, quick], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        line = next(l for l in result.stdout.splitlines() if l.startswith("run folder: "))
        assert os.path.exists(os.path.join(line.removeprefix("run folder: "), "recording.jsonl"))
        replay = subprocess.run([FLATLINE, "replay", "--last", "quick", "--runs-dir", runs], capture_output=True, text=True, timeout=60)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "replay of" in replay.stdout and line.removeprefix("run folder: ") in replay.stdout
        missing = subprocess.run([FLATLINE, "replay", "--last", "nope", "--runs-dir", runs], capture_output=True, text=True, timeout=60)
        assert missing.returncode == 2 and "scenarios recorded: quick" in missing.stderr


def test_a_server_command_that_never_gets_ready_is_a_setup_error():
    with tempfile.TemporaryDirectory() as folder:
        never = write(folder, "never.yaml", textwrap.dedent("""\
            name: never
            server:
              command: [python3, -c, "print('booting'); import time; time.sleep(60)"]
              ready: {line: "serving on", within: 1s}
            timeline:
              - wait: 10ms
            """))
        gone = write(folder, "gone.yaml", textwrap.dedent("""\
            name: gone
            server:
              command: [python3, -c, "print('no config, bye'); raise SystemExit(3)"]
            timeline:
              - wait: 10ms
            """))
        missing = write(folder, "missing.yaml", textwrap.dedent("""\
            name: missing
            server:
              command: [no-such-server-program, "{port}"]
            timeline:
              - wait: 10ms
            """))
        result = subprocess.run([FLATLINE, "run", "--no-record", "--jobs", "3", never, gone, missing], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "printed no line matching /serving on/ within 1s; its last lines: booting" in result.stdout, result.stdout
        assert "exited with 3 before it was ready; its last lines: no config, bye" in result.stdout, result.stdout
        assert "no-such-server-program': no such program" in result.stdout, result.stdout


def test_a_server_that_ends_by_itself_leaves_the_run_unjudged():
    """A `{port}` server that exits nonzero with no step asking (it could not bind: another program
    took the port and answered the readiness check meanwhile; a crash) was not the server the
    clients met: not judged, never a verdict. An exit with 0 (a launcher handing over) is left alone."""
    serve_then_exit = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen();"
                       " print('serving on', flush=True); time.sleep(0.3); sys.exit(int(sys.argv[2]))")
    scenario = textwrap.dedent("""\
        name: NAME
        server:
          command: [python3, -c, "CODE", "{port}", "EXIT"]
          ready: {line: "serving on"}
        timeline:
          - wait: 1s
        """).replace("CODE", serve_then_exit)
    with tempfile.TemporaryDirectory() as folder:
        crashed = write(folder, "crashed.yaml", scenario.replace("NAME", "crashed").replace("EXIT", "1"))
        handed = write(folder, "handed.yaml", scenario.replace("NAME", "handed").replace("EXIT", "0"))
        result = subprocess.run([FLATLINE, "run", "--no-record", crashed], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "✗ setup: the server exited with code 1 at " in result.stdout, result.stdout
        assert "no step stopped it; its last lines: serving on" in result.stdout, result.stdout
        assert "nothing is judged" in result.stdout, result.stdout
        result = subprocess.run([FLATLINE, "run", "--no-record", handed], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def test_an_upstream_server_cannot_be_killed_by_a_scenario():
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, "upstream.yaml", textwrap.dedent("""\
            name: upstream
            server: {upstream: "127.0.0.1:8080"}
            timeline:
              - server: kill
            """))
        result = subprocess.run([FLATLINE, "validate", path], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert "upstream.yaml:4:5: 'server: kill' needs a server Flatline runs" in result.stderr, result.stderr


def test_the_timeline_is_kept_for_whoever_reads_it():
    """A quiet run keeps no console timeline unless JUnit asks for it; concurrent runs print theirs whole."""
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "quick.yaml", QUICK)
        other = write(folder, "other.yaml", QUICK.replace("name: quick", "name: other"))
        junit = os.path.join(folder, "junit.xml")
        runs = os.path.join(folder, "runs")
        result = subprocess.run([FLATLINE, "run", "--quiet", "--junit", junit, "--runs-dir", runs, quick], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result
        with open(junit) as f:
            report = f.read()
        system_out = report.split("<system-out>")[1].split("</system-out>")[0]
        assert "▶ quick" in system_out and "connected" in system_out, report
        result = subprocess.run([FLATLINE, "run", "--jobs", "2", "--runs-dir", runs, quick, other], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result
        assert "▶ quick" in result.stdout and "▶ other" in result.stdout, result.stdout
        assert result.stdout.count("connected") >= 2, result.stdout


def test_a_quiet_run_tells_what_happened_in_a_failed_scenario_only():
    """--quiet prints a failed scenario's events (heartbeats too, as --verbose would), none of a passing one."""
    with tempfile.TemporaryDirectory() as folder:
        quick = write(folder, "quick.yaml", QUICK)
        late = write(folder, "late.yaml", textwrap.dedent("""\
            name: late
            client: {heartbeat: {interval: 50ms, timeout: 40ms}}
            timeline:
              - after: client connected
                within: 5s
              - expect: client disconnected
                within: 300ms
            """))
        runs = os.path.join(folder, "runs")
        result = subprocess.run([FLATLINE, "run", "--quiet", "--runs-dir", runs, quick, late], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result
        out = result.stdout
        assert "late: what happened (all of them: flatline replay --verbose " in out, out
        assert "quick: what happened" not in out, out
        story = out.split("late: what happened")[1].split("late: ✗")[0]
        assert "heartbeat-acked" in story and "⏵ step 1" in story and "client closed by=user" in story, out
        assert "late: ✗ step 2: expect client disconnected" in out, out
