"""`vars:` and `flatline run/validate --var`: one file for a client and its broken twin."""
import os
import subprocess
import textwrap

from conftest import FLATLINE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A client that exits after half a second unless its var says "stay": the twin fails its check.
TWINS = textwrap.dedent("""\
    name: twins
    vars: {mode: stay}
    client:
      command: [python3, -c, "import sys, time; print('mode', sys.argv[1], flush=True); time.sleep(30 if sys.argv[1] == 'stay' else 0.5)", "{var.mode}"]
    timeline:
      - wait: 100ms
      - expect-none: client exited
        for: 3s
    """)


def flatline(*args, cwd):
    return subprocess.run([FLATLINE, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_var_switches_the_command_and_the_verdict(tmp_path):
    (tmp_path / "twins.yaml").write_text(TWINS)
    good = flatline("run", "--no-record", "twins.yaml", cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    twin = flatline("run", "--no-record", "--var", "mode=leave", "twins.yaml", cwd=tmp_path)
    assert twin.returncode == 1, twin.stdout + twin.stderr
    assert "client exited" in twin.stdout


def test_an_undeclared_var_says_where_and_what(tmp_path):
    (tmp_path / "twins.yaml").write_text(TWINS)
    for command in ("validate", "run"):
        result = flatline(command, "--var", "mood=x", "twins.yaml", cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "twins.yaml" in result.stderr
        assert "declares no var 'mood'" in result.stderr and "did you mean 'mode'" in result.stderr
    malformed = flatline("validate", "--var", "mode", "twins.yaml", cwd=tmp_path)
    assert malformed.returncode == 2 and "write NAME=VALUE" in malformed.stderr


def test_the_bundled_twin_is_caught_with_its_var():
    """The shipped black-box Node scenario passes as written and fails with --var mode=faithful."""
    twin = flatline("run", "--no-record", "--quiet", "--var", "mode=faithful",
                    "scenarios/clients/node-seeds-blackbox-pulled-cable.yaml", cwd=ROOT)
    assert twin.returncode == 1, twin.stdout + twin.stderr
    assert "expect client abandoned" in twin.stdout and "late by" in twin.stdout
