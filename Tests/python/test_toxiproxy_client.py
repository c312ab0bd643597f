"""Drives Flatline's control API with the real Toxiproxy client, toxiproxy-python, unchanged."""
import socket

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import NotFound, ProxyExists, InvalidToxic


def roundtrip(port, payload=b"ping", timeout=2.0):
    """Sends payload through the proxy; returns what came back, or None if nothing did in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        conn.settimeout(timeout)
        try:
            return conn.recv(len(payload))
        except socket.timeout:
            return None


def test_create_toxic_list_reset(flatline_api, echo_server):
    host, port = flatline_api
    toxiproxy = Toxiproxy()
    toxiproxy.update_api_consumer(host, port)
    assert toxiproxy.running()
    assert b"flatline" in toxiproxy.version()

    proxy = toxiproxy.create(upstream=f"127.0.0.1:{echo_server}", name="echo")
    listen_port = int(proxy.listen.rsplit(":", 1)[1])
    assert listen_port != 0
    assert roundtrip(listen_port) == b"ping"
    assert set(toxiproxy.proxies()) == {"echo"}

    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=f"127.0.0.1:{echo_server}", name="echo")

    # Toxiproxy's timeout toxic with timeout 0: silence, no close, and still called a timeout.
    proxy.add_toxic(type="timeout", stream="downstream", name="silence", attributes={"timeout": 0})
    toxics = proxy.toxics()
    assert list(toxics) == ["silence"]
    assert toxics["silence"].type == "timeout"
    assert roundtrip(listen_port, timeout=0.3) is None

    proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 5})
    assert set(proxy.toxics()) == {"silence", "latency_downstream"}

    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="blackhol")

    toxiproxy.reset()
    assert proxy.toxics() == {}
    assert roundtrip(listen_port) == b"ping"

    proxy.destroy_toxic("latency_downstream") if proxy.get_toxic("latency_downstream") else None
    with proxy.down():
        with pytest.raises(OSError):
            roundtrip(listen_port, timeout=0.5)
    assert roundtrip(listen_port) == b"ping"

    assert proxy.destroy()
    with pytest.raises(NotFound):
        proxy.destroy()


def test_populate(flatline_api, echo_server):
    host, port = flatline_api
    toxiproxy = Toxiproxy()
    toxiproxy.update_api_consumer(host, port)
    created = toxiproxy.populate([
        {"name": "a", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_server}"},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_server}"},
    ])
    assert {p.name for p in created} == {"a", "b"}
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}
