public import EventSchema
import FaultProxy
import HeartbeatCore
import NIOConcurrencyHelpers

/// A client judged from the outside: its `client` events derived from what the proxy saw of its
/// connections alone (each client has a listener of its own, so every connection belongs to one
/// client). Derived events carry `observed: true`; they are the client events of a client that
/// prints none, and stand aside for the client's own where it prints some (``ClientSources``).
final class ClientObserver: Sendable {
    private struct Connection {
        var upgraded = false
        var ended = false
    }

    private let tag: JSONValue?
    private let log: EventLog
    private let dialect: HeartbeatDialect
    private let connections = NIOLockedValueBox<[Int64: Connection]>([:])

    /// `dialect`: what the client's heartbeats look like on the wire (the scenario says).
    init(tag: JSONValue?, log: EventLog, dialect: HeartbeatDialect) {
        self.tag = tag
        self.log = log
        self.dialect = dialect
    }

    /// Whether the proxy can see this dialect's heartbeats: pings, and JSON or text messages.
    static func canSee(_ dialect: HeartbeatDialect) -> Bool {
        switch dialect {
        case .ping, .json, .text: true
        case .serverPush: false
        }
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

    /// Derives from one proxy event (called on the proxy's thread, with the event's own time).
    func observe(_ event: ProxyEvent) {
        guard let conn = event.fields["conn"]?.intValue else { return }
        var fields: JSONObject = ["conn": .int(conn), "observed": true]
        if let tag { fields["client"] = tag }
        func emit(_ type: ClientEventType, _ extra: JSONObject = [:]) {
            var all = fields
            for (key, value) in extra { all[key] = value }
            log.record(EventRecord(t: event.at - log.origin, type, fields: all))
        }
        /// The connection's end, once: who closed it and how.
        func end(_ reason: String) {
            let first = connections.withLockedValue { connections in
                defer { connections[conn, default: Connection()].ended = true }
                return connections[conn]?.ended != true
            }
            if first { emit(.disconnected, ["reason": .string(reason)]) }
        }
        switch event.kind {
        case .connOpened:
            connections.withLockedValue { $0[conn] = Connection() }
            emit(.connecting)
        case .upgraded:
            // A held upgrade answered after the client gave the connection up is not a connection.
            let live = connections.withLockedValue { connections in
                connections[conn, default: Connection()].upgraded = true
                return connections[conn]?.ended != true
            }
            if live { emit(.connected) }
        case .connClosed:
            let how = event.fields["how"]?.stringValue ?? "fin"
            if event.fields["side"] == "client" {
                end("client-\(how)")
            } else if event.fields["forwarded"] != false {
                // The server's close reached the client: its connection is over.
                end("server-\(how)")
            }
        case .closedByProxy:
            if event.fields["side"] == "client" { end("proxy-\(event.fields["how"]?.stringValue ?? "fin")") }
        case .upstreamFailed:
            end("server-unreachable")
        case .connEnded:
            end("ended")
        case .frame:
            // Heartbeats the proxy can see: RFC 6455 pings from the client, pongs back to it.
            let flow = event.fields["flow"]?.stringValue, opcode = event.fields["opcode"]?.stringValue
            if flow == Flow.upstream.rawValue, opcode == "ping" { emit(.heartbeatSent) }
            if flow == Flow.downstream.rawValue, opcode == "pong" { emit(.heartbeatAcked) }
            // JSON and text dialects: the heartbeat message and its answer, by their text.
            if opcode == "text", let flow, let text = event.fields["text"]?.stringValue, isHeartbeat(text, flow: flow) {
                emit(flow == Flow.upstream.rawValue ? .heartbeatSent : .heartbeatAcked)
            }
            // The client's close frame: it has given the connection up (its FIN may follow later).
            if flow == Flow.upstream.rawValue, opcode == "close" { end("client-close") }
        default:
            break
        }
    }
}

/// Which client events count: a client's own, where it prints them; the proxy's observations
/// (`observed: true`) of what it does not print — per client, its heartbeats apart, so that a
/// client that reports its connections but not its pings still has its pings seen. Live waits and
/// the judge use this one rule.
public enum ClientSources {
    /// Client events a client's runner produces whatever the client does (they say nothing of its connections).
    static let runnerMade: Set<String> = [ClientEventType.output.rawValue, ClientEventType.exited.rawValue, ClientEventType.outputTruncated.rawValue]

    static func tag(_ event: EventRecord) -> String { event.fields["client"].map { "\($0)" } ?? "" }

    /// The number of the client an event belongs to, as text: "1" for a run with one client.
    static func clientKey(_ event: EventRecord) -> String { event.fields["client"]?.description ?? "1" }

    /// What an own event stands in for: the client's heartbeats (by type), or everything else it
    /// reports — a client that prints any of its connection events reports them all, and prints
    /// `connecting` before the proxy can see the connection, so its observed events never race
    /// its own.
    static func key(_ event: EventRecord) -> String {
        tag(event) + " " + (event.type.hasPrefix("heartbeat-") ? event.type : "connections")
    }

    static func isObserved(_ event: EventRecord) -> Bool { event.source == "client" && event.fields["observed"] == true }

    /// Whether `event` is a client's own report of its connections.
    static func isOwn(_ event: EventRecord) -> Bool {
        event.source == "client" && event.fields["observed"] != true && !runnerMade.contains(event.type)
    }

    /// The (client, type) pairs clients report themselves.
    static func selfReporting(_ events: [EventRecord]) -> Set<String> {
        Set(events.lazy.filter(isOwn).map(key))
    }

    /// `events` without the observed events that a client reports itself.
    public static func visible(_ events: [EventRecord]) -> [EventRecord] {
        let own = selfReporting(events)
        guard !own.isEmpty else { return events }
        return events.filter { !isObserved($0) || !own.contains(key($0)) }
    }
}
