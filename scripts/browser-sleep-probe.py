#!/usr/bin/env python3
"""Which way of stopping a page in headless Chromium behaves like a laptop's sleep?

Runs the fixed heartcheck page (clients/browser/heartcheck.html) against a small WebSocket server
that also sends protocol pings every 100 ms, stops the page for 2 s in one of three ways, and
prints what the peer saw:
  page-freeze   CDP Page.setWebLifecycleState frozen / active (the page alone)
  renderer-stop SIGSTOP / SIGCONT to the renderer processes alone (found in the browser's own
                process group by their --type=renderer)
  sigstop       SIGSTOP / SIGCONT to the browser's process group (what `client: freeze` does)
  offline       CDP Network.emulateNetworkConditions offline / online (what `client: offline`
                adds to its blackhole), plus a new WebSocket opened while offline
A sleeping laptop answers nothing while asleep and wakes with its sockets open and silent.

    python3 scripts/browser-sleep-probe.py [page-freeze renderer-stop sigstop offline] [--runs N]
Needs chromium and Python's websockets. Traffic stays on 127.0.0.1.
"""
import asyncio, json, os, re, signal, sys, tempfile, time, shutil

import websockets

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "browser", "heartcheck.html")
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


async def probe(mode):
    facts = {"mode": mode, "pongs_before": 0, "pongs_during": 0, "app_heartbeats_during": 0,
             "socket_closed_by": None, "page_events": [], "new_socket_while_offline": None}
    stopped = {"on": False}
    pongs = []
    closed = asyncio.get_running_loop().create_future()

    async def handler(ws):
        async def pinger():
            while True:
                await asyncio.sleep(0.1)
                try:
                    waiter = await ws.ping()
                except Exception:
                    return
                async def wait(waiter=waiter):
                    try:
                        await asyncio.wait_for(waiter, 10)
                        pongs.append(stopped["on"])
                    except Exception:
                        pass
                asyncio.create_task(wait())
        task = asyncio.create_task(pinger())
        try:
            async for message in ws:
                if stopped["on"]:
                    facts["app_heartbeats_during"] += 1
                await ws.send(message)
        except Exception:
            pass
        finally:
            task.cancel()
            if not closed.done():
                closed.set_result(time.monotonic())

    server = await websockets.serve(handler, "127.0.0.1", 0, ping_interval=None)
    port = server.sockets[0].getsockname()[1]
    profile = tempfile.mkdtemp(prefix="flatline-probe-")
    url = f"file://{os.path.abspath(PAGE)}?url=ws://127.0.0.1:{port}/&interval=300&timeout=150&delay=200&mode=fixed"
    args = [BROWSER, "--headless", "--disable-gpu", f"--user-data-dir={profile}", "--remote-debugging-port=0",
            "--enable-logging=stderr", "--v=0", "--disable-background-timer-throttling", "--disable-renderer-backgrounding"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    browser = await asyncio.create_subprocess_exec(*args, url, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    devtools = asyncio.get_running_loop().create_future()
    phase = {"name": "before"}

    async def read_log():
        while line := await browser.stderr.readline():
            text = line.decode(errors="replace")
            if (m := re.search(r"DevTools listening on (ws://\S+)", text)) and not devtools.done():
                devtools.set_result(m.group(1))
            if (m := re.search(r':CONSOLE.*?\] "(.*)", source', text)) and phase["name"] != "before":
                message = m.group(1)
                try:
                    event = json.loads(message.encode().decode("unicode_escape"))
                    label = event.get("line") or event["type"] + (f" ({event['reason']})" if "reason" in event else "")
                except Exception:
                    label = message
                if not label.startswith(("heartbeat-sent", "heartbeat-acked")):
                    facts["page_events"].append(f"{phase['name']}: {label}")
    reader = asyncio.create_task(read_log())
    try:
        cdp = await websockets.connect(await asyncio.wait_for(devtools, 20), max_size=None)
        answers, ids = {}, iter(range(1, 1 << 30))

        async def receive():
            try:
                async for message in cdp:
                    data = json.loads(message)
                    if data.get("id") in answers:
                        answers.pop(data["id"]).set_result(data)
            except websockets.ConnectionClosed:
                pass  # the browser was killed
        asyncio.create_task(receive())

        async def call(method, params=None, session=None):
            i = next(ids)
            answers[i] = asyncio.get_running_loop().create_future()
            await cdp.send(json.dumps({"id": i, "method": method, "params": params or {}, **({"sessionId": session} if session else {})}))
            return (await answers[i]).get("result", {})

        targets = await call("Target.getTargets")
        page = next(t for t in targets["targetInfos"] if t["type"] == "page")
        session = (await call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}))["sessionId"]
        await call("Network.enable", {}, session)
        await asyncio.sleep(1.5)
        facts["pongs_before"] = len(pongs)
        phase["name"] = "during"
        stopped["on"] = True
        conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        if mode == "page-freeze":
            await call("Page.setWebLifecycleState", {"state": "frozen"}, session)
        elif mode == "sigstop":
            os.killpg(browser.pid, signal.SIGSTOP)
        elif mode == "renderer-stop":
            stopped_renderers = renderers(browser.pid)
            for pid in stopped_renderers:
                os.kill(pid, signal.SIGSTOP)
        else:
            await call("Network.emulateNetworkConditions", {"offline": True, **conditions}, session)
            await asyncio.sleep(0.2)
            result = await call("Runtime.evaluate", {"awaitPromise": True, "returnByValue": True, "expression":
                f"new Promise(r => {{ const t = performance.now(); const w = new WebSocket('ws://127.0.0.1:{port}/x');"
                " w.onopen = () => {{ r('opened'); w.close(); }}; w.onerror = () => r('failed after ' + Math.round(performance.now() - t) + ' ms'); })"}, session)
            facts["new_socket_while_offline"] = result.get("result", {}).get("value")
        await asyncio.sleep(2)
        facts["pongs_during"] = sum(1 for during in pongs if during)
        stopped["on"] = False
        woke = time.monotonic()
        phase["name"] = "after"
        if mode == "page-freeze":
            await call("Page.setWebLifecycleState", {"state": "active"}, session)
        elif mode == "sigstop":
            os.killpg(browser.pid, signal.SIGCONT)
        elif mode == "renderer-stop":
            for pid in stopped_renderers:
                os.kill(pid, signal.SIGCONT)
        else:
            await call("Network.emulateNetworkConditions", {"offline": False, **conditions}, session)
        try:
            at = await asyncio.wait_for(asyncio.shield(closed), 1.5)
            facts["socket_closed_by"] = f"the browser, {round((at - woke) * 1000)} ms after the wake"
        except asyncio.TimeoutError:
            facts["socket_closed_by"] = "nobody (open and in use 1.5 s after the wake)"
    finally:
        try:
            os.killpg(browser.pid, signal.SIGCONT)
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await browser.wait()
        reader.cancel()
        server.close()
        shutil.rmtree(profile, ignore_errors=True)
    return facts


def renderers(group):
    """The renderer processes of the browser whose process group is `group`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) == group and b"--type=renderer" in open(f"/proc/{entry}/cmdline", "rb").read():
                found.append(int(entry))
        except (OSError, ProcessLookupError):
            pass
    return found


def main():
    if not BROWSER:
        sys.exit("browser-sleep-probe: needs chromium (Debian: apt-get install chromium)")
    modes = [a for a in sys.argv[1:] if not a.startswith("--")] or ["page-freeze", "renderer-stop", "sigstop", "offline"]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    modes = [m for m in modes if not m.isdigit()]
    for mode in modes:
        for run in range(runs):
            facts = asyncio.run(probe(mode))
            print(f"{mode} (run {run + 1}): WebSocket pings answered during the 2-s stop: {facts['pongs_during']}"
                  f" (before it, in 1.5 s: {facts['pongs_before']}); page heartbeats that reached the server during it:"
                  f" {facts['app_heartbeats_during']}; the socket was closed by: {facts['socket_closed_by']}"
                  + (f"; a new WebSocket while offline: {facts['new_socket_while_offline']}" if facts["new_socket_while_offline"] else ""))
            for event in facts["page_events"][:6]:
                print(f"    page {event}")


if __name__ == "__main__":
    main()
