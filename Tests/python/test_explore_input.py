"""`flatline explore`: bad input gets a clear error that says where and what (exit 2), never a hang."""
import subprocess
import textwrap

from conftest import FLATLINE

WORLD = textwrap.dedent("""\
    name: w
    client:
      heartbeat: {dialect: json, interval: 300ms, timeout: 200ms}
      reconnect: {delay: 200ms}
    server: {dialect: json}
    """)


def explore(*args, cwd):
    return subprocess.run([FLATLINE, "explore", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_missing_world_says_so(tmp_path):
    result = explore("nope.yaml", "--seeds", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "cannot read" in result.stderr


def test_an_unknown_kind_is_located(tmp_path):
    (tmp_path / "w.yaml").write_text(WORLD + "explore:\n  kinds: [blackhole, cable]\n")
    result = explore("w.yaml", "--seeds", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "w.yaml:7:" in result.stderr and "unknown kind 'cable'" in result.stderr


def test_a_kind_the_mode_cannot_do_says_why(tmp_path):
    (tmp_path / "w.yaml").write_text(WORLD + "network: packet\nexplore:\n  kinds: [drop-replies]\n")
    result = explore("w.yaml", "--seeds", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "drop-replies cannot be drawn here" in result.stderr


def test_bad_seeds_are_refused(tmp_path):
    (tmp_path / "w.yaml").write_text(WORLD)
    for seeds in ("abc", "9-3", "-1"):
        result = explore("w.yaml", "--seeds", seeds, cwd=tmp_path)
        assert result.returncode != 0 and "--seeds" in result.stderr, (seeds, result.stderr)


def test_a_client_that_never_connects_is_a_setup_error(tmp_path):
    (tmp_path / "w.yaml").write_text(textwrap.dedent("""\
        name: w
        client:
          command: [python3, -c, "import time; time.sleep(60)", "{url}"]
          heartbeat: {dialect: json, interval: 300ms, timeout: 200ms}
          reconnect: {delay: 200ms}
        server: {dialect: json}
        """))
    result = explore("w.yaml", "--seeds", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "never connected" in result.stderr


def test_a_world_needs_no_timeline_but_run_does(tmp_path):
    (tmp_path / "w.yaml").write_text(WORLD)
    result = subprocess.run([FLATLINE, "run", "--no-record", "w.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "needs a 'timeline'" in result.stderr and "explore" in result.stderr
