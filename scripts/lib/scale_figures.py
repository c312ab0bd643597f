"""Figures of one run's recording for scripts/bench-scale.sh: heartbeat-timer lateness (the
built-in client's `late_ms` on `heartbeat-sent`, up to the teardown) and detection error (each heartbeat-timeout
disconnect minus the client's own deadline: its last heartbeat's send time plus the timeout).
Usage: scale_figures.py RECORDING.jsonl TIMEOUT_MS  → one JSON object on stdout."""
import json
import sys


def quantile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    path, timeout = sys.argv[1], float(sys.argv[2])
    late, steady, errors, last_sent, events = [], [], [], {}, 0
    # Steady state: from the first step (all clients connected and acked) to the first fault
    # (pulled-cable-4000 waits 2 s there).
    settled, faulted = None, None
    for line in open(path):
        event = json.loads(line)
        events += 1
        if event.get("src") == "runner" and event.get("type") == "teardown":
            break  # what the judge sees: nothing after teardown counts
        if event.get("src") == "runner" and event.get("type") == "step" and settled is None:
            settled = event["t"]
        if event.get("src") == "proxy" and event.get("type") == "fault-on" and faulted is None:
            faulted = event["t"]
        if event.get("src") != "client":
            continue
        key = (event.get("client"), event.get("conn"))
        if event["type"] == "heartbeat-sent":
            last_sent[key] = event["t"]
            if "late_ms" in event:
                late.append(event["late_ms"])
                if settled is not None and faulted is None:
                    steady.append(event["late_ms"])
        elif event["type"] == "disconnected" and event.get("reason") == "heartbeat-timeout" and key in last_sent:
            errors.append(event["t"] - (last_sent[key] + timeout))
    print(json.dumps({
        "events": events,
        "late_p50": quantile(late, 0.5), "late_p99": quantile(late, 0.99), "late_max": max(late) if late else None, "timers": len(late), "steady_p99": quantile(steady, 0.99), "steady_timers": len(steady),
        "detect_p50": quantile(errors, 0.5), "detect_p99": quantile(errors, 0.99), "detect_max": max(errors) if errors else None, "detections": len(errors),
    }))


if __name__ == "__main__":
    main()
