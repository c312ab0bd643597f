"""Packet mode (network: packet): the namespace and its rules never outlive the run, and what is
missing is said in one line with exit 2."""
import os
import shutil
import subprocess
import tempfile
import textwrap

from conftest import FLATLINE
from test_run_evidence import external_pids, wait_for, write

# A packet-mode scenario that is under way for a while, with an external client and a fault on.
SLOW = textwrap.dedent("""\
    name: packet-slow
    network: packet
    client:
      command: [python3, -c, "import time; print('started', flush=True); time.sleep(602)"]
    timeline:
      - fault: {type: blackhole, name: cable}
      - wait: 30s
    """)


def netns_list():
    if not shutil.which("ip"):
        return ""
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def host_ruleset():
    result = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else f"(nft list ruleset: {result.stderr.strip()})"


def network_namespace(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def processes_in(namespace):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and network_namespace(entry) == namespace:
            found.append(int(entry))
    return found


def test_a_killed_run_leaves_no_namespace_no_rules_no_processes():
    assert FLATLINE, "set FLATLINE_BIN to the flatline executable"
    with tempfile.TemporaryDirectory() as folder:
        slow = write(folder, "slow.yaml", SLOW)
        before_netns = netns_list()
        before_rules = host_ruleset()
        process = subprocess.Popen(
            [FLATLINE, "run", "--runs-dir", os.path.join(folder, "runs"), slow],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        try:
            # The run replaces itself with the same command in a new namespace (same PID).
            lines = []
            for line in process.stdout:
                lines.append(line)
                if "fault-on" in line:
                    break
            assert any("enforced=nftables" in line for line in lines), lines
            namespace = network_namespace(process.pid)
            assert namespace and namespace != network_namespace(os.getpid()), "the run is not in a namespace of its own"
            assert wait_for(lambda: external_pids("time.sleep(602)"))
            assert len(processes_in(namespace)) >= 2, "the client runs in the run's namespace"
            assert "flatline_" not in host_ruleset(), "the rules belong to the namespace, not the host"
        finally:
            process.kill()  # SIGKILL: no handler, no cleanup code runs
            process.wait(timeout=10)
        assert wait_for(lambda: not processes_in(namespace), 10), "a process outlived the run in its namespace"
        assert not external_pids("time.sleep(602)")
        assert netns_list() == before_netns
        assert host_ruleset() == before_rules


def test_without_nft_or_a_namespace_it_says_what_is_missing():
    with tempfile.TemporaryDirectory() as folder:
        slow = write(folder, "slow.yaml", SLOW)
        no_nft = subprocess.run([FLATLINE, "run", "--no-record", slow], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "FLATLINE_NFT": "/nonexistent/nft"})
        assert no_nft.returncode == 2, no_nft
        assert no_nft.stderr.strip() == "flatline run: packet mode needs the nft program (Debian: apt-get install nftables)"
        refuse = write(folder, "refuse-unshare", "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
        os.chmod(refuse, 0o755)
        no_namespace = subprocess.run([FLATLINE, "run", "--no-record", slow], capture_output=True, text=True, timeout=60,
                                      env={**os.environ, "FLATLINE_UNSHARE": refuse})
        assert no_namespace.returncode == 2, no_namespace
        assert "packet mode cannot create a private network namespace with nftables: unshare: unshare failed: Operation not permitted" in no_namespace.stderr
        assert no_namespace.stdout == "", "nothing ran"


def test_a_fault_the_kernel_cannot_do_is_rejected_before_anything_runs():
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, "latency.yaml", SLOW.replace("{type: blackhole, name: cable}", "{type: latency, latency: 300ms}"))
        result = subprocess.run([FLATLINE, "run", "--no-record", path], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result
        assert f"{path}:6:5: network: packet: fault 'latency' has no packet-level form: this kernel has no netem" in result.stderr
