"""`flatline init`: a starter suite for a user's client — it passes a correct client, catches the
seeds' mistake, looks at the client once to choose how to judge it, and says what is wrong with bad input."""
import os
import subprocess

from conftest import FLATLINE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE = ("node --experimental-websocket clients/node/heartcheck.mjs {url} --interval {heartbeat.interval.ms} "
        "--timeout {heartbeat.timeout.ms} --delay {reconnect.delay.ms} --mode ")
SETTINGS = ["--dialect", "json", "--interval", "300ms", "--timeout", "150ms", "--delay", "200ms"]


def flatline(*args, timeout=120):
    return subprocess.run([FLATLINE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def rows(output):
    """scenario name → result, from the summary table."""
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("pass", "FAIL", "caught", "ERROR", "MISSED"):
            table[parts[0]] = parts[1]
    return table


def test_the_suite_passes_a_correct_client_and_its_twin_is_caught(tmp_path):
    suite = tmp_path / "fixed"
    made = flatline("init", "--no-input", "--command", NODE + "fixed", *SETTINGS, str(suite))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "judged by its own events" in made.stdout
    run = flatline("run", "--no-record", str(suite))
    assert run.returncode == 0, run.stdout + run.stderr
    assert rows(run.stdout) == {f"fixed-{name}": "pass" for name in
                                ("clean-close", "network-switch", "pulled-cable", "server-power-loss", "short-outage")}
    twin = flatline("run", "--no-record", str(suite / "negative"))
    assert twin.returncode == 0, twin.stdout + twin.stderr
    assert rows(twin.stdout) == {"fixed-detection-demanded-too-soon": "caught"}


def test_the_suite_catches_the_seeds_mistake(tmp_path):
    # The seeds' page: after a missed reply it calls close() and waits for onclose — which never
    # comes on a dead link. The same command line as above, one flag apart.
    suite = tmp_path / "faithful"
    made = flatline("init", "--no-input", "--command", NODE + "faithful", *SETTINGS, str(suite))
    assert made.returncode == 0, made.stdout + made.stderr
    run = flatline("run", "--no-record", str(suite))
    assert run.returncode == 1, run.stdout + run.stderr
    table = rows(run.stdout)
    for caught in ("pulled-cable", "server-power-loss", "network-switch"):
        assert table[f"faithful-{caught}"] == "FAIL", run.stdout
    # A clean close needs no heartbeat: that one it survives.
    assert table["faithful-clean-close"] == "pass", run.stdout


def test_a_silent_client_is_judged_from_outside(tmp_path):
    suite = tmp_path / "silent"
    command = ("python3 clients/python/wsclient_silent.py {url} --interval {heartbeat.interval.s} "
               "--timeout {heartbeat.timeout.s} --reconnect {reconnect.delay.s}")
    made = flatline("init", "--no-input", "--command", command, "--dialect", "ping", "--interval", "400ms",
                    "--timeout", "200ms", "--delay", "200ms", "--slack", "400ms", str(suite))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "judged from outside" in made.stdout
    assert "expect: client abandoned" in (suite / "pulled-cable.yaml").read_text()


def test_bad_input_says_what_and_where(tmp_path):
    missing = flatline("init", "--no-input", str(tmp_path / "a"))
    assert missing.returncode == 2 and "missing --command, --browser or --shipped" in missing.stderr, missing.stderr
    quote = flatline("init", "--no-input", "--command", "node 'x", *SETTINGS, str(tmp_path / "b"))
    assert quote.returncode == 2 and "--command: an unclosed single quote" in quote.stderr, quote.stderr
    dialect = flatline("init", "--no-input", "--command", "node x", "--dialect", "morse", "--interval", "1s",
                       "--timeout", "500ms", "--delay", "1s", str(tmp_path / "c"))
    assert dialect.returncode == 2 and "--dialect 'morse'" in dialect.stderr, dialect.stderr
    both = flatline("init", "--no-input", "--shipped", "node", "--server", "127.0.0.1:1", "--server-command", "x", str(tmp_path / "d"))
    assert both.returncode == 2 and "give one of them" in both.stderr, both.stderr
    # A client that never connects: said at once, with its output, and nothing is written.
    never = flatline("init", "--no-input", "--command", "python3 -c 'print(\"no socket here\")'", *SETTINGS, str(tmp_path / "e"))
    assert never.returncode == 2, never.stdout + never.stderr
    assert "did not connect" in never.stderr and "no socket here" in never.stderr, never.stderr
    assert not (tmp_path / "e").exists()
    # What exists is kept unless --force.
    first = flatline("init", "--no-input", "--shipped", "node", str(tmp_path / "f"))
    assert first.returncode == 0, first.stderr
    again = flatline("init", "--no-input", "--shipped", "node", str(tmp_path / "f"))
    assert again.returncode == 2 and "exists (--force replaces it)" in again.stderr, again.stderr
    assert flatline("init", "--no-input", "--force", "--shipped", "node", str(tmp_path / "f")).returncode == 0


def test_doctor_passes_the_core_and_names_each_part():
    doctor = flatline("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for part in ("core:", "open files:", "wire capture", "packet mode", "browser clients", "clients/node", "clients/python"):
        assert part in doctor.stdout, doctor.stdout
    assert "the core works" in doctor.stdout


def test_in_a_terminal_it_asks_for_what_is_missing(tmp_path):
    # `script` gives init a terminal; the answers come in on it, one per question.
    answers = "\n".join([NODE + "fixed", "json", "300ms", "150ms", "200ms", "python3 clients/python/echo_server.py {port}"]) + "\n"
    suite = tmp_path / "asked"
    session = subprocess.run(["script", "-qec", f"{FLATLINE} init {suite}", "/dev/null"], cwd=ROOT, input=answers,
                             capture_output=True, text=True, timeout=120)
    assert session.returncode == 0, session.stdout + session.stderr
    for question in ("How is your client started?", "Its heartbeat: ping, json or text?", "Its heartbeat interval", "Your server?"):
        assert question in session.stdout, session.stdout
    text = (suite / "pulled-cable.yaml").read_text()
    assert "interval: 300ms, timeout: 150ms" in text and "echo_server.py" in text, text
    run = flatline("run", "--no-record", str(suite))
    assert run.returncode == 0, run.stdout + run.stderr
