"""External clients' timing for scripts/bench-scale.sh, from one recording: how late Flatline
stamps a line a client printed (per client, the line's delay beyond that client's fastest line:
t - client_t - min(t - client_t)), and how far the client's own `connected` lies from the proxy's
observation of the same connection (the k-th of each, per client).
Usage: stamp_figures.py RECORDING.jsonl"""
import collections
import json
import sys


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main():
    offsets = collections.defaultdict(list)
    own, observed = collections.defaultdict(list), collections.defaultdict(list)
    for line in open(sys.argv[1]):
        event = json.loads(line)
        if event.get("src") == "runner" and event.get("type") == "teardown":
            break
        if event.get("src") != "client":
            continue
        client = event.get("client", 1)
        if "client_t" in event:
            offsets[client].append(event["t"] - event["client_t"])
        if event["type"] == "connected":
            (observed if event.get("observed") else own)[client].append(event["t"])
    stamps = [offset - min(values) for values in offsets.values() for offset in values]
    gaps = [mine - seen for client in own for mine, seen in zip(own[client], observed[client])]
    print(f"external clients: {len(offsets)}; {len(stamps)} printed events stamped, delay beyond each client's fastest line "
          f"p50 {quantile(stamps, 0.5):.2f} / p99 {quantile(stamps, 0.99):.2f} / max {max(stamps, default=float('nan')):.2f} ms")
    print(f"own 'connected' minus the proxy's observed one ({len(gaps)} connections): "
          f"p50 {quantile(gaps, 0.5):.2f} / p99 {quantile(gaps, 0.99):.2f} / min {min(gaps, default=float('nan')):.2f} / max {max(gaps, default=float('nan')):.2f} ms")


if __name__ == "__main__":
    main()
