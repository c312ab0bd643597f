// A heartbeat client written the way JVM developers write one on the JDK's own WebSocket
// (java.net.http, Java 11+; no dependency): a ping every interval, a missing pong within the
// timeout ends the connection, a reconnect loop with a fixed delay and a connect timeout. It prints
// only its own log lines (not Flatline's event schema): Flatline judges it from the outside.
//
//   java clients/java/HeartCheck.java ws://host:port/path [options]
//     --interval MS          ping every MS (default 500)
//     --timeout MS           pong deadline (default 250)
//     --delay MS             reconnect delay (default 300)
//     --connect-timeout MS   TCP connect plus upgrade (default 2000)
//     --mode abort           on a missed pong: abort() the socket now and reconnect (default)
//     --mode close-and-wait  on a missed pong: sendClose(1001) and wait for onClose before
//                            reconnecting — the classic mistake: over a dead link the close
//                            handshake never ends, and the JDK keeps the socket open
// SIGINT or SIGTERM is the user closing: sendClose(1000), no reconnect.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

public final class HeartCheck {
    private final URI uri;
    private final long interval, timeout, delay, connectTimeout;
    private final boolean abort;
    private final long start = System.nanoTime();
    // Every state change runs on this one thread: no locks, one reconnect at a time.
    private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "heartcheck");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient http;
    private WebSocket socket;
    private int conn;
    private int attempt;
    private boolean closedByUser;
    private boolean reconnectPending;
    private ScheduledFuture<?> pingTimer, pongTimer;
    private long pingSeq;

    HeartCheck(URI uri, long interval, long timeout, long delay, long connectTimeout, boolean abort) {
        this.uri = uri;
        this.interval = interval;
        this.timeout = timeout;
        this.delay = delay;
        this.connectTimeout = connectTimeout;
        this.abort = abort;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(connectTimeout)).build();
    }

    private void log(String message) {
        System.out.printf("[%10.3f ms] %s%n", (System.nanoTime() - start) / 1e6, message);
        System.out.flush();
    }

    void connect() {
        conn += 1;
        final int id = conn;
        log("connecting #" + id + " (attempt " + attempt + ")");
        http.newWebSocketBuilder()
            .connectTimeout(Duration.ofMillis(connectTimeout))
            .buildAsync(uri, new Listener(id))
            .whenCompleteAsync((ws, error) -> {
                if (error != null) {
                    log("connect #" + id + " failed: " + rootMessage(error));
                    scheduleReconnect();
                    return;
                }
                if (closedByUser) {
                    ws.abort();
                    return;
                }
                socket = ws;
                attempt = 0;
                log("connected #" + id);
                schedulePing(ws, id);
            }, loop);
    }

    /// The exception chain, without the CompletionException wrapper: "ConnectException ← ClosedChannelException".
    private static String rootMessage(Throwable error) {
        StringBuilder text = new StringBuilder();
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.util.concurrent.CompletionException) continue;
            if (text.length() > 0) text.append(" ← ");
            text.append(cause.getClass().getSimpleName());
            if (cause.getMessage() != null && !cause.getMessage().isEmpty()) text.append(": ").append(cause.getMessage());
        }
        return text.toString();
    }

    private void schedulePing(WebSocket ws, int id) {
        pingTimer = loop.schedule(() -> {
            if (ws != socket) return;
            pingSeq += 1;
            long seq = pingSeq;
            ws.sendPing(ByteBuffer.wrap(Long.toString(seq).getBytes()));
            pongTimer = loop.schedule(() -> missedPong(ws, id, seq), timeout, TimeUnit.MILLISECONDS);
        }, interval, TimeUnit.MILLISECONDS);
    }

    private void missedPong(WebSocket ws, int id, long seq) {
        if (ws != socket) return;
        log("no pong to ping " + seq + " within " + timeout + " ms: connection #" + id + " is dead");
        stopTimers();
        if (abort) {
            // Dead at the deadline: drop the socket now, reconnect.
            socket = null;
            ws.abort();
            scheduleReconnect();
        } else {
            // The classic mistake: a polite close over a dead link, and wait for onClose.
            ws.sendClose(1001, "heartbeat timeout");
        }
    }

    private void stopTimers() {
        if (pingTimer != null) pingTimer.cancel(false);
        if (pongTimer != null) pongTimer.cancel(false);
    }

    private void lost(WebSocket ws, int id, String why) {
        if (ws != socket) return; // an abandoned socket's late news
        socket = null;
        stopTimers();
        log("connection #" + id + " lost: " + why);
        scheduleReconnect();
    }

    private void scheduleReconnect() {
        if (closedByUser || reconnectPending) return;
        reconnectPending = true;
        attempt += 1;
        log("reconnecting in " + delay + " ms (attempt " + attempt + ")");
        loop.schedule(() -> {
            reconnectPending = false;
            if (!closedByUser) connect();
        }, delay, TimeUnit.MILLISECONDS);
    }

    void closeByUser() {
        try {
            CompletionStage<WebSocket> sent = loop.submit(() -> {
                closedByUser = true;
                stopTimers();
                log("closed by the user");
                return socket == null ? null : socket.sendClose(WebSocket.NORMAL_CLOSURE, "closed by user");
            }).get(1, TimeUnit.SECONDS);
            if (sent != null) sent.toCompletableFuture().get(500, TimeUnit.MILLISECONDS);
        } catch (Exception ignored) {
        }
    }

    private final class Listener implements WebSocket.Listener {
        private final int id;

        Listener(int id) { this.id = id; }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            loop.execute(() -> {
                if (ws != socket) return;
                if (pongTimer != null) pongTimer.cancel(false);
                schedulePing(ws, id);
            });
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
            loop.execute(() -> lost(ws, id, "closed " + status + (reason.isEmpty() ? "" : " " + reason)));
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            loop.execute(() -> lost(ws, id, "error " + rootMessage(error)));
        }
    }

    public static void main(String[] args) throws Exception {
        String url = null;
        long interval = 500, timeout = 250, delay = 300, connectTimeout = 2000;
        String mode = "abort";
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.startsWith("ws://") || arg.startsWith("wss://")) {
                url = arg;
                continue;
            }
            if (i + 1 >= args.length) usage("option " + arg + " needs a value");
            String value = args[++i];
            try {
                switch (arg) {
                    case "--interval" -> interval = Long.parseLong(value);
                    case "--timeout" -> timeout = Long.parseLong(value);
                    case "--delay" -> delay = Long.parseLong(value);
                    case "--connect-timeout" -> connectTimeout = Long.parseLong(value);
                    case "--mode" -> mode = value;
                    default -> usage("unknown option " + arg);
                }
            } catch (NumberFormatException e) {
                usage(arg + " takes a whole number of milliseconds, got '" + value + "'");
            }
        }
        if (url == null) usage("no ws:// URL given");
        if (!mode.equals("abort") && !mode.equals("close-and-wait")) usage("--mode must be abort or close-and-wait, got '" + mode + "'");
        HeartCheck client = new HeartCheck(URI.create(url), interval, timeout, delay, connectTimeout, mode.equals("abort"));
        Runtime.getRuntime().addShutdownHook(new Thread(client::closeByUser));
        client.loop.execute(client::connect);
        Thread.currentThread().join(); // until a signal ends the process
    }

    private static void usage(String problem) {
        System.err.println("HeartCheck: " + problem);
        System.err.println("usage: java HeartCheck.java ws://host:port/path [--interval MS] [--timeout MS] [--delay MS] [--connect-timeout MS] [--mode abort|close-and-wait]");
        System.exit(2);
    }
}
