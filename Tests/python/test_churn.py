"""Churn: thousands of connections through every fault kind, closed every way (FIN, RST,
half-close, by either side). The proxy's descriptors must come back to their baseline."""
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import urllib.request

from conftest import FLATLINE, stop_process

TOXICS = [
    {"type": "latency", "attributes": {"latency": 5}},
    {"type": "bandwidth", "attributes": {"rate": 1000}},
    {"type": "slicer", "attributes": {"average_size": 8, "size_variation": 4, "delay": 100}},
    {"type": "limit_data", "attributes": {"bytes": 5}},
    {"type": "slow_close", "attributes": {"delay": 5}},
    {"type": "timeout", "attributes": {"timeout": 30}},
    {"type": "reset_peer", "attributes": {"timeout": 5}},
    {"type": "blackhole"},
    {"type": "hold"},
    {"type": "power_loss"},
    {"type": "close"},
    {"type": "refuse"},
    {"type": "drop_frames", "attributes": {"opcodes": ["pong"]}},
]
PER_KIND = 160


def api(port, method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read()
        return json.loads(data) if data else None


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def close_some_way(sock, how):
    try:
        if how == "rst":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif how == "half":
            sock.shutdown(socket.SHUT_WR)
            return  # stays half-open until the end
        sock.close()
    except OSError:
        pass


def test_descriptors_return_to_baseline_after_churn():
    upstream = socket.socket()
    upstream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1024)
    up_port = upstream.getsockname()[1]
    server_side = []
    stop_accepting = threading.Event()
    rng = random.Random(7)

    def acceptor():
        upstream.settimeout(0.1)
        while not stop_accepting.is_set():
            try:
                conn, _ = upstream.accept()
            except OSError:
                continue
            how = rng.choice(["keep", "fin", "rst", "half"])
            if how == "keep":
                server_side.append(conn)
            else:
                close_some_way(conn, how)
                server_side.append(conn)

    thread = threading.Thread(target=acceptor, daemon=True)
    thread.start()
    process = subprocess.Popen([FLATLINE, "proxy", "--api", "127.0.0.1:0", "--events", "jsonl"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    clients = []
    lines = []
    listening = threading.Event()

    def reader():
        for line in process.stdout:
            lines.append(line)
            if '"api-listening"' in line:
                listening.set()

    threading.Thread(target=reader, daemon=True).start()
    try:
        assert listening.wait(20), "the proxy did not start"
        event = json.loads(next(line for line in lines if '"api-listening"' in line))
        api_port = int(event["address"].rsplit(":", 1)[1])
        created = api(api_port, "POST", "/proxies", {"name": "churn", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{up_port}"})
        port = int(created["listen"].rsplit(":", 1)[1])
        time.sleep(0.2)
        baseline = descriptors(process.pid)
        total = 0
        for toxic in TOXICS:
            toxic = dict(toxic, name="t", stream="both")
            api(api_port, "POST", "/proxies/churn/toxics", toxic)
            for index in range(PER_KIND):
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                except OSError:
                    continue  # refuse
                total += 1
                try:
                    sock.sendall(b"x" * rng.randint(1, 64))
                except OSError:
                    pass
                how = rng.choice(["fin", "rst", "half", "keep"])
                if how == "keep":
                    clients.append(sock)
                else:
                    close_some_way(sock, how)
                    clients.append(sock)
            api(api_port, "DELETE", "/proxies/churn/toxics/t")
        api(api_port, "POST", "/reset")
        for sock in clients:
            close_some_way(sock, rng.choice(["fin", "rst"]))
        stop_accepting.set()
        thread.join(5)
        for conn in server_side:
            close_some_way(conn, rng.choice(["fin", "rst"]))
        # Connections the proxy dialled but the test server never accepted are reset with the
        # listener: the server's side of every connection is then closed too.
        upstream.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and descriptors(process.pid) > baseline + 1:
            time.sleep(0.2)
        after = descriptors(process.pid)
        print(f"churn: {total} connections through {len(TOXICS)} fault kinds; proxy descriptors {baseline} before, {after} after")
        if after > baseline + 1:
            states = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout
            mine = [line.split()[0] + " " + line.split()[3] + " " + line.split()[4] for line in states.splitlines() if f"pid={process.pid}," in line]
            events = [json.loads(line) for line in lines if line.startswith("{")]
            ended = {e["conn"] for e in events if e["type"] == "conn-ended"}
            fault, under = None, {}
            for e in events:
                if e["type"] == "fault-on":
                    fault = e["kind"]
                elif e["type"] == "fault-off":
                    fault = None
                elif e["type"] == "conn-opened":
                    under[e["conn"]] = fault
            leaked = [c for c in under if c not in ended][:4]
            story = [f"#{c} under {under[c]}: " + "; ".join(f"{e['type']} {e.get('side', '')} {e.get('how', '')}".strip() for e in events if e.get("conn") == c) for c in leaked]
            raise AssertionError(f"descriptors leaked: {baseline} before, {after} after {total} connections; sockets: {mine}; connections: {story}")
    finally:
        stop_process(process)
        upstream.close()
