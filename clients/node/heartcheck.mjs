// A heartbeat client written the way the seeds write them (a heartCheck object, a reply timer,
// onclose/onerror calling a locked reconnect, a fixed delay, an isReconnect switch for a manual
// close, JSON {"ModeCode": "heart_beat"}), on Node 20's WebSocket (run with
// --experimental-websocket). It prints its events in Flatline's schema on stdout.
//
//   node --experimental-websocket clients/node/heartcheck.mjs URL [options]
//     --interval MS      heartbeat every MS of silence (default 300)
//     --timeout MS       reply deadline (default 200)
//     --delay MS         reconnect delay (default 300)
//     --max-attempts N   give up after N reconnects (default: never)
//     --mode faithful    on a missed reply: ws.close() and let onclose reconnect (the seeds' way;
//                        over a dead link onclose comes only when the close handshake ends)
//     --mode fixed       on a missed reply: the link is dead now; report it, reconnect at once,
//                        ignore whatever the abandoned socket says later (default)
//   The classic mistakes, one flag each (for the negative scenarios):
//     --no-heartbeat     no heartCheck at all (the browser default)
//     --no-lock          no lockReconnect: onerror and onclose each schedule a reconnect
//     --reconnect-on-manual-close   the close event of a manual close runs the reconnect logic
//   Mistakes that only a sequence of faults shows (every single-fault scenario passes; 'flatline
//   explore' finds them — docs/explore.md):
//     --bug stale-heartbeat          the reply watchdog stays bound to the first connection's socket:
//                                    after a reconnect a missed reply is never acted on
//     --bug attempts-never-reset     the attempt counter is not reset on open: max attempts run out
//                                    over several outages instead of one
//     --bug lock-kept-after-refused  a connect attempt that errors (refused) retries on a timer of
//                                    its own and keeps the reconnect lock, which is never released:
//                                    the next loss is never reconnected
//     --bug close-keeps-timer        a manual close does not cancel a pending reconnect timer
//     --bug none                     (default)
// SIGINT or SIGTERM is the user closing the page: ws.close(), and (unless the mistake above) no reconnect.

const args = process.argv.slice(2);
const url = args.find((a) => a.startsWith("ws://") || a.startsWith("wss://"));
function option(name, fallback) {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const flag = (name) => args.includes(name);
if (!url) {
    console.error("usage: heartcheck.mjs ws://host:port/path [--interval MS] [--timeout MS] [--delay MS] [--mode faithful|fixed]");
    process.exit(2);
}
if (typeof WebSocket !== "function") {
    console.error("heartcheck.mjs: no WebSocket in this Node; run Node 20+ with --experimental-websocket");
    process.exit(2);
}
const interval = Number(option("--interval", "300"));
const timeout = Number(option("--timeout", "200"));
const delay = Number(option("--delay", "300"));
const maxAttempts = option("--max-attempts", null);
const mode = option("--mode", "fixed");
if (!["faithful", "fixed"].includes(mode)) {
    console.error(`heartcheck.mjs: --mode must be faithful or fixed, got '${mode}'`);
    process.exit(2);
}
const noHeartbeat = flag("--no-heartbeat");
const noLock = flag("--no-lock");
const reconnectOnManualClose = flag("--reconnect-on-manual-close");
const bugs = ["none", "stale-heartbeat", "attempts-never-reset", "lock-kept-after-refused", "close-keeps-timer"];
const bug = option("--bug", "none");
if (!bugs.includes(bug)) {
    console.error(`heartcheck.mjs: --bug must be one of ${bugs.join(", ")}, got '${bug}'`);
    process.exit(2);
}

const start = performance.now();
function emit(type, fields = {}) {
    const t = Math.round((performance.now() - start) * 1000) / 1000;
    process.stdout.write(JSON.stringify({ t, src: "client", type, ...fields }) + "\n");
}

let websocket = null;
let conn = 0;
let attempt = 0;
let lockReconnect = false;
let isReconnect = true; // false once the user closed: a manual close never reconnects
let reconnectTimer = null;
let heartbeatTimedOut = false; // faithful mode: this connection's close was ours, after a missed reply

const heartCheck = {
    timeoutObj: null,
    serverTimeoutObj: null,
    seq: 0,
    sentAt: 0,
    reset() {
        clearTimeout(this.timeoutObj);
        clearTimeout(this.serverTimeoutObj);
        return this;
    },
    start(ws, id) {
        if (noHeartbeat) return;
        if (bug === "stale-heartbeat" && !this.first) this.first = { ws, id };
        this.timeoutObj = setTimeout(() => {
            if (ws.readyState !== WebSocket.OPEN) return;
            this.seq += 1;
            this.sentAt = performance.now();
            ws.send(JSON.stringify({ ModeCode: "heart_beat", msg: Date.now() }));
            emit("heartbeat-sent", { conn: id, seq: this.seq });
            if (bug === "stale-heartbeat") {
                // The watchdog looks at the socket it was first given; once that one is closed it
                // thinks there is nothing to watch.
                const { ws: watched, id: watchedId } = this.first;
                this.serverTimeoutObj = setTimeout(() => {
                    if (watched.readyState === WebSocket.OPEN) missedReply(watched, watchedId);
                }, timeout);
                return;
            }
            this.serverTimeoutObj = setTimeout(() => missedReply(ws, id), timeout);
        }, interval);
    },
};

function missedReply(ws, id) {
    const detail = `no reply to heartbeat #${heartCheck.seq} within ${timeout}ms`;
    if (mode === "faithful") {
        // The seeds: close the socket and let onclose reconnect.
        heartbeatTimedOut = true;
        ws.close();
        return;
    }
    // Dead at the deadline: report it, abandon the socket, reconnect now.
    abandon(ws);
    emit("disconnected", { conn: id, reason: "heartbeat-timeout", detail });
    reconnect();
}

/// The abandoned socket's later error and close are about a link already given up: ignored.
function abandon(ws) {
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    try {
        ws.close(1000, "heartbeat timeout");
    } catch {}
}

function createWebSocket() {
    conn += 1;
    const id = conn;
    heartbeatTimedOut = false;
    emit("connecting", { conn: id, attempt });
    let ws;
    try {
        ws = new WebSocket(url);
    } catch (error) {
        emit("disconnected", { conn: id, reason: "error", detail: String(error) });
        reconnect();
        return;
    }
    websocket = ws;
    let lost = false;
    let opened = false;
    const lose = (reason, detail) => {
        heartCheck.reset();
        if (!lost || noLock) emit("disconnected", { conn: id, reason, detail });
        lost = true;
        reconnect();
    };
    ws.onopen = () => {
        opened = true;
        emit("connected", { conn: id, attempt });
        if (bug !== "attempts-never-reset") attempt = 0;
        heartCheck.reset().start(ws, id);
    };
    ws.onmessage = (event) => {
        // Any message proves the link alive: reset and start again (the seeds' heartCheck).
        let text = typeof event.data === "string" ? event.data : "";
        let parsed = null;
        try {
            parsed = JSON.parse(text);
        } catch {}
        if (parsed && parsed.ModeCode === "heart_beat") {
            emit("heartbeat-acked", { conn: id, seq: heartCheck.seq, rtt_ms: Math.round((performance.now() - heartCheck.sentAt) * 1000) / 1000 });
        } else {
            emit("message-received", { conn: id, bytes: Buffer.byteLength(text) });
        }
        heartCheck.reset().start(ws, id);
    };
    ws.onerror = (event) => {
        if (bug === "lock-kept-after-refused" && !opened && isReconnect) {
            // Retry on a timer of its own, holding the lock so that onclose does not schedule a
            // second attempt — and never releasing it.
            heartCheck.reset();
            if (!lost) emit("disconnected", { conn: id, reason: "error", detail: event?.message || "error event" });
            lost = true;
            lockReconnect = true;
            attempt += 1;
            emit("reconnect-scheduled", { attempt, delay_ms: delay });
            clearTimeout(reconnectTimer);
            reconnectTimer = setTimeout(createWebSocket, delay);
            return;
        }
        lose("error", event?.message || "error event");
    };
    ws.onclose = (event) => {
        if (!isReconnect && !reconnectOnManualClose) return;
        const reason = heartbeatTimedOut ? "heartbeat-timeout" : event.wasClean ? "peer-closed" : "reset";
        lose(reason, `close event ${event.code}${event.reason ? " " + event.reason : ""}`);
    };
}

function reconnect() {
    if (!isReconnect && !reconnectOnManualClose) return;
    if (lockReconnect && !noLock) return;
    lockReconnect = true;
    attempt += 1;
    if (maxAttempts !== null && attempt > Number(maxAttempts)) {
        emit("gave-up", { attempts: Number(maxAttempts) });
        process.exit(1);
    }
    emit("reconnect-scheduled", { attempt, delay_ms: delay });
    if (!noLock) clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
        lockReconnect = false;
        createWebSocket();
    }, delay);
}

function closeByUser() {
    isReconnect = false;
    heartCheck.reset();
    const keepsTimer = reconnectOnManualClose || bug === "close-keeps-timer";
    if (!keepsTimer) clearTimeout(reconnectTimer);
    emit("closed", { by: "user" });
    if (websocket && websocket.readyState <= WebSocket.OPEN) websocket.close(1000, "closed by user");
    if (!keepsTimer) setTimeout(() => process.exit(0), 200).unref();
}
process.on("SIGINT", closeByUser);
process.on("SIGTERM", () => {
    closeByUser();
    setTimeout(() => process.exit(0), 200).unref();
});

createWebSocket();
