import EventSchema
import WireCapture
import FaultProxy
import FaultModel
import HeartbeatCore
import NIOConcurrencyHelpers

/// A client judged from the outside: its `client` events derived from what the proxy saw of its
/// connections alone (each client has a listener of its own, so every connection belongs to one
/// client) and, in packet mode, from what the capture saw on the client's side of the cable.
/// Derived events carry `observed: true`; they are the client events of a client that prints
/// none, and stand aside for the client's own where it prints some (``ClientSources``).
///
/// What each derived event means — the same rule for every black-box client:
/// - `close-sent`: its close frame: the client *declared* the link dead (its socket may stay open);
/// - `disconnected`: the socket is gone: the client's FIN or RST, a RST that reached it, or the
///   connection could not be made;
/// - `abandoned`: the first of (the socket gone, a new attempt while it was still open): what can
///   be seen from outside of the instant a client gave a connection up.
final class ClientObserver: Sendable {
    private struct Connection {
        var ended = false
        var abandoned = false
        var closeSent = false
        /// The client's own port (its end of the connection), to match what the capture sees.
        var clientPort: Int?
    }

    private struct State {
        var connections: [Int64: Connection] = [:]
        /// Client ports the capture saw a SYN from that the proxy has not accepted yet (packet mode).
        var attempts: Set<Int> = []
    }

    private let tag: JSONValue?
    private let log: EventLog
    private let dialect: HeartbeatDialect
    private let state = NIOLockedValueBox(State())

    /// Packet mode: the proxy is on the far side of the cable.
    private let packetMode: Bool

    /// `dialect`: what the client's heartbeats look like on the wire (the scenario says).
    init(tag: JSONValue?, log: EventLog, dialect: HeartbeatDialect, packetMode: Bool = false) {
        self.tag = tag
        self.log = log
        self.dialect = dialect
        self.packetMode = packetMode
    }

    /// Whether a text message in `flow` is a heartbeat (upstream) or its answer (downstream).
    func isHeartbeat(_ text: String, flow: String) -> Bool {
        switch dialect {
        case .json: text.contains("\"ModeCode\"") && text.contains("heart_beat")
        case .text(let payload, let reply):
            flow == Flow.upstream.rawValue ? text == payload : (reply.map { text == $0 } ?? true)
        case .ping, .serverPush: false
        }
    }

    private func emit(_ type: ClientEventType, at t: Duration, conn: Int64?, _ extra: JSONObject = [:]) {
        var fields: JSONObject = ["observed": true]
        if let conn { fields["conn"] = .int(conn) }
        if let tag { fields["client"] = tag }
        for (key, value) in extra { fields[key] = value }
        log.record(EventRecord(t: t, type, fields: fields))
    }

    /// The connection's socket is gone, once: who closed it and how. It is also given up.
    private func end(_ conn: Int64, _ reason: String, at t: Duration) {
        let (first, abandon) = state.withLockedValue { state in
            var connection = state.connections[conn, default: Connection()]
            defer { state.connections[conn] = connection }
            let first = !connection.ended, abandon = !connection.abandoned
            connection.ended = true
            connection.abandoned = true
            return (first, abandon)
        }
        if first { emit(.disconnected, at: t, conn: conn, ["reason": .string(reason)]) }
        if abandon { emit(.abandoned, at: t, conn: conn, ["how": .string(reason)]) }
    }

    /// A new attempt: every connection the client still holds open is given up (a client that
    /// dials again while its old socket is open has left that socket behind: a leak).
    private func newAttempt(at t: Duration, except conn: Int64? = nil) {
        let left = state.withLockedValue { state in
            var left: [Int64] = []
            for (id, connection) in state.connections where id != conn && !connection.abandoned {
                state.connections[id]!.abandoned = true
                left.append(id)
            }
            return left.sorted()
        }
        for id in left { emit(.abandoned, at: t, conn: id, ["how": "redial", "open": true]) }
    }

    private func sentClose(_ conn: Int64, at t: Duration) {
        let first = state.withLockedValue { state in
            defer { state.connections[conn, default: Connection()].closeSent = true }
            return state.connections[conn]?.closeSent != true
        }
        if first { emit(.closeSent, at: t, conn: conn) }
    }

    /// Derives from one proxy event (called on the proxy's thread, with the event's own time).
    func observe(_ event: ProxyEvent) {
        guard let conn = event.fields["conn"]?.intValue else { return }
        let t = event.at - log.origin
        switch event.type {
        case .connOpened:
            let port = event.fields["client"]?.stringValue.flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            let seenAttempt = state.withLockedValue { state in
                state.connections[conn] = Connection(clientPort: port)
                return port.map { state.attempts.remove($0) != nil } ?? false
            }
            // In packet mode the capture may have seen this attempt's SYN long before the proxy could.
            if !seenAttempt { newAttempt(at: t, except: conn) }
            emit(.connecting, at: t, conn: conn)
        case .upgraded:
            // A held upgrade answered after the client gave the connection up is not a connection.
            let live = state.withLockedValue { $0.connections[conn]?.abandoned != true }
            if live { emit(.connected, at: t, conn: conn) }
        case .connClosed:
            let how = event.fields["how"]?.stringValue ?? "fin"
            if event.fields["side"] == "client" {
                end(conn, "client-\(how)", at: t)
            } else if how == "rst", event.fields["forwarded"] != false {
                // The server's reset reached the client: its socket is gone. (A FIN leaves the
                // client's half open: its own FIN says when it let go.)
                end(conn, "server-rst", at: t)
            }
        case .closedByProxy:
            if event.fields["side"] == "client", event.fields["how"] == "rst" { end(conn, "proxy-rst", at: t) }
        case .upstreamFailed:
            end(conn, "server-unreachable", at: t)
        case .connEnded:
            end(conn, "ended", at: t)
        case .frame:
            // Heartbeats the proxy can see: RFC 6455 pings from the client, pongs back to it.
            let flow = event.fields["flow"]?.stringValue, opcode = event.fields["opcode"]?.stringValue
            // Packet mode: what reaches the proxy on a connection the client already gave up was
            // sent before that (held by the cable, retransmitted at the heal): not a sign of use.
            if flow == Flow.upstream.rawValue, packetMode, state.withLockedValue({ $0.connections[conn]?.abandoned == true }) { return }
            if flow == Flow.upstream.rawValue, opcode == "ping" { emit(.heartbeatSent, at: t, conn: conn) }
            if flow == Flow.downstream.rawValue, opcode == "pong" { heartbeatAnswered(conn, at: t) }
            // JSON and text dialects: the heartbeat message and its answer, by their text.
            if opcode == "text", let flow, let text = event.fields["text"]?.stringValue, isHeartbeat(text, flow: flow) {
                if flow == Flow.upstream.rawValue { emit(.heartbeatSent, at: t, conn: conn) } else { heartbeatAnswered(conn, at: t) }
            }
            // The client's close frame: it declared the connection over (its socket may stay open).
            if flow == Flow.upstream.rawValue, opcode == "close" { sentClose(conn, at: t) }
        default:
            break
        }
    }

    /// A reply reaching a connection the client has already declared dead or given up answers
    /// nothing of its: not an acknowledged heartbeat.
    private func heartbeatAnswered(_ conn: Int64, at t: Duration) {
        let live = state.withLockedValue { state in
            state.connections[conn].map { !$0.abandoned && !$0.closeSent } ?? true
        }
        if live { emit(.heartbeatAcked, at: t, conn: conn) }
    }

    /// Packet mode: what the capture saw the client send, on its side of the cable (the drop rules
    /// act after the capture, so the proxy sees these only once a fault is gone).
    func observeWire(_ type: WireEventType, clientPort: Int, opcode: String?, at t: Duration) {
        let conn = state.withLockedValue { state in
            state.connections.first { $0.value.clientPort == clientPort && !$0.value.ended }?.key
        }
        switch type {
        case .syn where conn == nil:
            let first = state.withLockedValue { $0.attempts.insert(clientPort).inserted }
            if first { newAttempt(at: t) }
        case .fin: if let conn { end(conn, "client-fin", at: t) }
        case .rst: if let conn { end(conn, "client-rst", at: t) }
        case .frame where opcode == "close": if let conn { sentClose(conn, at: t) }
        default: break
        }
    }
}

