/// Who reported an event.
public enum EventSource: String, Sendable, Hashable, CaseIterable {
    case client, server, proxy, wire, runner

    /// Fields any event of this source may carry besides its type's own.
    public var commonFields: [String] {
        switch self {
        // `client` numbers the client when a scenario runs several; `client_t` is an external
        // client's own clock; `observed` marks an event derived from the proxy's observations.
        case .client: ["client", "client_t", "observed"]
        // `server_t` is a server process's own clock.
        case .server: ["server_t"]
        // The proxy's name (a proxy process may serve several).
        case .proxy: ["proxy"]
        case .wire: ["from", "to", "port"]
        case .runner: []
        }
    }
}

/// An event type of one source: its name in the schema, its fields and what it means.
/// Every source's types are an enum conforming to this, so a type that is emitted is a type that
/// is declared, documented and known to scenario files.
public protocol CataloguedEvent: RawRepresentable, CaseIterable, Sendable, Hashable where RawValue == String {
    static var source: EventSource { get }
    /// The type as an `EventType`, the form code compares.
    var eventType: EventType { get }
    /// The type's own fields, in the order they are written.
    var fields: [String] { get }
    /// One line for the documentation.
    var meaning: String { get }
}

public enum ClientEventType: String, CataloguedEvent {
    case connecting, connected
    case heartbeatSent = "heartbeat-sent"
    case heartbeatAcked = "heartbeat-acked"
    case heartbeatReceived = "heartbeat-received"
    case messageSent = "message-sent"
    case messageReceived = "message-received"
    case protocolError = "protocol-error"
    case closeSent = "close-sent"
    case disconnected
    case abandoned
    case reconnectScheduled = "reconnect-scheduled"
    case gaveUp = "gave-up"
    case closed, output, exited
    case outputTruncated = "output-truncated"

    public static var source: EventSource { .client }

    public var fields: [String] {
        switch self {
        case .connecting, .connected: ["conn", "attempt"]
        case .heartbeatSent: ["conn", "seq", "late_ms"]
        case .heartbeatAcked: ["conn", "seq", "rtt_ms"]
        case .heartbeatReceived: ["conn"]
        case .messageSent, .messageReceived: ["conn", "bytes"]
        case .protocolError: ["conn", "detail"]
        case .closeSent: ["conn"]
        case .disconnected: ["conn", "reason", "detail"]
        case .abandoned: ["conn", "how", "open"]
        case .reconnectScheduled: ["attempt", "delay_ms"]
        case .gaveUp: ["attempts"]
        case .closed: ["by"]
        case .output: ["line"]
        case .exited: ["code"]
        case .outputTruncated: ["lines_kept", "bytes_kept"]
        }
    }

    public var meaning: String {
        switch self {
        case .connecting: "connection `conn` is being made; attempt 0 is the first connection, n the n-th reconnect"
        case .connected: "TCP connected and WebSocket upgrade completed"
        case .heartbeatSent: "heartbeat number `seq` went out; `late_ms` (built-in client): how long after its due instant its timer fired"
        case .heartbeatAcked: "its reply arrived"
        case .heartbeatReceived: "a server-pushed heartbeat arrived (server-push dialect)"
        case .messageSent: "application traffic sent"
        case .messageReceived: "application traffic received"
        case .protocolError: "a message that could not be understood (e.g. malformed JSON reply); not fatal by itself"
        case .closeSent: "observed: the client sent a close frame on `conn` — it *declared* the link dead; its socket may stay open (a close handshake over a dead link never ends)"
        case .disconnected: "the connection was lost or could not be made; `reason` says why. Observed: the socket is gone — the client's FIN or RST, or the end reached it"
        case .abandoned: "observed: the client gave `conn` up — its socket gone (`how`: the `disconnected` reason, e.g. `client-fin`) or a new attempt begun while it was still open (`how: redial`, `open: true`: the old socket is left behind, a leak); the black-box evidence of detection"
        case .reconnectScheduled: "the next attempt and the delay before it"
        case .gaveUp: "max attempts exhausted; terminal"
        case .closed: "closed by the user; terminal, never reconnects"
        case .output: "a line an external client printed that is not an event"
        case .exited: "an external client's process ended, with its exit code"
        case .outputTruncated: "an external client printed more than Flatline keeps (100,000 lines or 32 MiB); the rest was read and dropped"
        }
    }
}

public enum ServerEventType: String, CataloguedEvent {
    case listening
    case acceptFailed = "accept-failed"
    case clientConnected = "client-connected"
    case heartbeatReceived = "heartbeat-received"
    case heartbeatPushed = "heartbeat-pushed"
    case pingSent = "ping-sent"
    case messageReceived = "message-received"
    case protocolError = "protocol-error"
    case reaped
    case clientDisconnected = "client-disconnected"
    case muted, frozen, resumed, killed, stopped, exited, output

    public static var source: EventSource { .server }

    public var fields: [String] {
        switch self {
        case .listening: ["host", "port"]
        case .acceptFailed: ["detail"]
        case .clientConnected: ["conn", "remote"]
        case .heartbeatReceived, .heartbeatPushed, .pingSent: ["conn"]
        case .messageReceived: ["conn", "bytes"]
        case .protocolError: ["conn", "detail"]
        case .reaped: ["conn", "silent_ms"]
        case .clientDisconnected: ["conn", "detail"]
        case .muted: ["on"]
        case .frozen, .resumed, .killed, .stopped: []
        case .exited: ["code"]
        case .output: ["line"]
        }
    }

    public var meaning: String {
        switch self {
        case .listening: "always the first event; names the bound port"
        case .acceptFailed: "a connection could not be accepted or set up (out of descriptors…); the server backs off and goes on"
        case .clientConnected: "a WebSocket connection was upgraded"
        case .heartbeatReceived: "a heartbeat of any dialect arrived (answered unless muted)"
        case .heartbeatPushed: "a server-push heartbeat went out"
        case .pingSent: "the server's own ping went out (`--ping-interval`)"
        case .messageReceived: "application traffic (echoed unless `--no-echo`)"
        case .protocolError: "the client broke the protocol; the connection is failed with 1002/1009"
        case .reaped: "the client was silent for `--reap-after`; closed with 1001"
        case .clientDisconnected: "the connection ended, and who ended it"
        case .muted: "heartbeat answers switched off (`on: true`) or on again"
        case .frozen: "the server stopped answering anything (SIGSTOP for a server process)"
        case .resumed: "a frozen server goes on (SIGCONT)"
        case .killed: "the server died without closing its sockets (in process: RST; a process: SIGKILL)"
        case .stopped: "the server stopped listening and closed its connections"
        case .exited: "a server process ended, with its exit code"
        case .output: "a line a command server printed that is not an event"
        }
    }
}

public enum ProxyEventType: String, CataloguedEvent {
    case listening
    case apiListening = "api-listening"
    case listenerClosed = "listener-closed"
    case acceptFailed = "accept-failed"
    case connOpened = "conn-opened"
    case upstreamConnected = "upstream-connected"
    case upstreamFailed = "upstream-failed"
    case upgraded
    case httpResponse = "http-response"
    case connClosed = "conn-closed"
    case closedByProxy = "closed-by-proxy"
    case connEnded = "conn-ended"
    case faultOn = "fault-on"
    case faultOff = "fault-off"
    case faultSkipped = "fault-skipped"
    case holdFull = "hold-full"
    case idleExpired = "idle-expired"
    case frame
    case frameDropped = "frame-dropped"
    case eventsDropped = "events-dropped"

    public static var source: EventSource { .proxy }

    public var fields: [String] {
        switch self {
        case .listening: ["listen", "upstream", "warning"]
        case .apiListening: ["address"]
        case .listenerClosed: ["reason"]
        case .acceptFailed: ["detail"]
        case .connOpened: ["conn", "client"]
        case .upstreamConnected, .upgraded: ["conn"]
        case .upstreamFailed: ["conn", "detail"]
        case .httpResponse: ["conn", "status"]
        case .connClosed: ["conn", "side", "how", "forwarded", "detail"]
        case .closedByProxy: ["conn", "side", "how", "fault"]
        case .connEnded: ["conn", "up_bytes", "down_bytes", "up_dropped", "down_dropped"]
        case .faultOn: ["fault", "kind", "direction", "toxicity", "target", "attributes", "enforced"]
        case .faultOff: ["fault", "dropped_bytes", "enforced"]
        case .faultSkipped: ["fault", "conn"]
        case .holdFull: ["conn", "flow", "bytes", "fault"]
        case .idleExpired: ["conn", "fault", "kind", "idle_ms", "then"]
        case .frame: ["conn", "flow", "opcode", "length", "fin", "text"]
        case .frameDropped: ["conn", "flow", "opcode", "length", "fault"]
        case .eventsDropped: ["count"]
        }
    }

    public var meaning: String {
        switch self {
        case .listening: "the proxy listens on `listen` and forwards to `upstream`; `warning` when other hosts can reach it"
        case .apiListening: "the control API listens (`flatline proxy --api`)"
        case .listenerClosed: "the listener was closed (a `refuse` fault); new connections are refused"
        case .acceptFailed: "a connection could not be accepted or set up (out of descriptors, a socket option refused…); the proxy backs off and goes on"
        case .connOpened: "a client connection was accepted; `conn` numbers it from 1"
        case .upstreamConnected: "its server leg is connected"
        case .upstreamFailed: "the server could not be reached; the client leg is closed"
        case .upgraded: "the server answered the WebSocket upgrade with 101"
        case .httpResponse: "the server answered the upgrade with another status"
        case .connClosed: "one peer closed its side (`how`: fin or rst); `forwarded: false` when a fault withholds it"
        case .closedByProxy: "the proxy closed a leg because of a fault"
        case .connEnded: "both legs are gone; bytes forwarded and dropped per direction"
        case .faultOn: "a fault was added; `enforced: nftables` in packet mode, where the kernel carries it out and the proxy only observes"
        case .faultOff: "a fault was removed; `dropped_bytes` it discarded"
        case .faultSkipped: "a fault with a toxicity below 1 passed over this connection"
        case .holdFull: "a hold reached its cap; the proxy stopped reading from the sender"
        case .idleExpired: "the connection carried no byte either way for the fault's `idle_ms`: a `nat-expiry` forgot it (`then`: drop or reset), an `idle-close` closed it (`then`: fin or rst)"
        case .frame: "a WebSocket frame passed (with observe-frames, and for every external client); a whole text message up to 512 bytes carries its `text`"
        case .frameDropped: "a drop-frames fault removed a frame"
        case .eventsDropped: "`GET /events` only: this many events were skipped because the reader did not keep up"
        }
    }
}

public enum WireEventType: String, CataloguedEvent {
    case syn, fin, rst, frame, retransmission

    public static var source: EventSource { .wire }

    public var fields: [String] {
        switch self {
        case .syn, .fin, .rst: []
        case .frame: ["opcode", "length"]
        case .retransmission: ["bytes"]
        }
    }

    public var meaning: String {
        switch self {
        case .syn: "a connection attempt"
        case .fin: "a FIN"
        case .rst: "a reset"
        case .frame: "a WebSocket frame, decoded from the TCP stream (in order, retransmissions skipped)"
        case .retransmission: "a segment sent again"
        }
    }
}

public enum RunnerEventType: String, CataloguedEvent {
    case scenario, configuration, capture, observing, step, teardown, verdict, end
    case clientResumed = "client-resumed"

    public static var source: EventSource { .runner }

    public var fields: [String] {
        switch self {
        case .scenario: ["file", "text", "format"]
        case .configuration: ["name", "seed", "network", "settings", "server_port", "proxy_port", "proxy_ports"]
        case .observing: ["clients"]
        case .capture: ["status", "path", "reason"]
        case .step: ["index", "label", "ok", "error"]
        case .teardown: []
        case .clientResumed: ["frozen_ms"]
        case .verdict: ["check", "label", "outcome", "ok", "message", "measured_ms", "bound_ms", "margin_ms"]
        case .end: ["events", "verdicts", "slack", "strict", "duration_ms", "setup_error"]
        }
    }

    public var meaning: String {
        switch self {
        case .scenario: "recordings: the scenario file as it was run"
        case .configuration: "recordings: the resolved settings and the ports"
        case .capture: "the wire capture `started`, or `skipped` with the reason"
        case .observing: "each of `clients` clients has a proxy listener of its own: its connections are observed (`observed: true` client events), so not seeing one is evidence"
        case .step: "a timeline step began (its time is the reference of the checks that follow)"
        case .teardown: "the run ends; events after it never count"
        case .clientResumed: "a `client: {freeze: D}` step's client went on after `frozen_ms` (`after: runner client-resumed` measures from the wake)"
        case .verdict: "recordings: one per check; `outcome` is passed, failed or not-judged"
        case .end: "recordings: the last line of a complete recording, with what it holds and how it was judged"
        }
    }
}

/// Every event type of every source, in one place: scenario validation, the documentation and
/// the tests read it from here.
public enum EventCatalog {
    public struct Entry: Sendable, Hashable {
        public var source: EventSource
        public var type: String
        public var fields: [String]
        public var meaning: String
    }

    public static let entries: [Entry] =
        entries(ClientEventType.self) + entries(ServerEventType.self) + entries(ProxyEventType.self)
        + entries(WireEventType.self) + entries(RunnerEventType.self)

    private static func entries<T: CataloguedEvent>(_: T.Type) -> [Entry] {
        T.allCases.map { Entry(source: T.source, type: $0.rawValue, fields: $0.fields, meaning: $0.meaning) }
    }

    public static func types(of source: EventSource) -> [Entry] { entries.filter { $0.source == source } }

    /// The fields an event of this type may carry: its own and its source's common ones.
    public static func allowedFields(_ type: EventType) -> [String] { type.fields + type.source.commonFields }

    /// The documentation table of one source, as written in docs/events.md.
    public static func markdownTable(_ source: EventSource) -> String {
        var lines = ["| type | fields | meaning |", "|---|---|---|"]
        for entry in types(of: source) {
            let fields = entry.fields.map { "`\($0)`" }.joined(separator: ", ")
            lines.append("| `\(entry.type)` | \(fields) | \(entry.meaning) |")
        }
        return lines.joined(separator: "\n")
    }

    /// Whether `record` is a declared type with only declared fields (a description of what is not).
    public static func problem(with record: EventRecord) -> String? {
        if case .undeclared(let source, let name) = record.type { return "undeclared \(source) event '\(name)'" }
        let allowed = allowedFields(record.type)
        if let stray = record.fields.keys.first(where: { !allowed.contains($0) }) {
            return "\(record.type) has undeclared field '\(stray)'"
        }
        return nil
    }
}

extension EventRecord {
    /// A record of a catalogued type.
    public init<T: CataloguedEvent>(t: Duration, _ type: T, fields: JSONObject = [:]) {
        self.init(t: t, type: type.eventType, fields: fields)
    }
}
