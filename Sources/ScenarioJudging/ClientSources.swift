public import EventSchema
public import HeartbeatCore

/// Which client events count: a client's own, where it prints them; the proxy's observations
/// (`observed: true`) of what it does not print — per client, its heartbeats apart, so that a
/// client that reports its connections but not its pings still has its pings seen. Live waits and
/// the judge use this one rule.
public enum ClientSources {
    /// Whether the proxy can see this dialect's heartbeats: pings, and JSON or text messages.
    public static func canSee(_ dialect: HeartbeatDialect) -> Bool {
        switch dialect {
        case .ping, .json, .text: true
        case .serverPush: false
        }
    }

    /// Client events a client's runner produces whatever the client does (they say nothing of its connections).
    public static let runnerMade: Set<ClientEventType> = [.output, .exited, .outputTruncated]

    public static func tag(_ event: EventRecord) -> String { event.fields["client"].map { "\($0)" } ?? "" }

    /// The number of the client an event belongs to, as text: "1" for a run with one client.
    public static func clientKey(_ event: EventRecord) -> String { event.fields["client"]?.description ?? "1" }

    /// What an own event stands in for: the client's heartbeats (by type), or everything else it
    /// reports — a client that prints any of its connection events reports them all, and prints
    /// `connecting` before the proxy can see the connection, so its observed events never race
    /// its own.
    public static func key(_ event: EventRecord) -> String {
        tag(event) + " " + (event.type.isClientHeartbeat ? event.type.name : "connections")
    }


    public static func isObserved(_ event: EventRecord) -> Bool { event.source == .client && event.fields["observed"] == true }

    /// Whether `event` is a client's own report of its connections.
    public static func isOwn(_ event: EventRecord) -> Bool {
        guard case .client(let type) = event.type else { return false }
        return event.fields["observed"] != true && !runnerMade.contains(type)
    }

    /// The (client, type) pairs clients report themselves.
    public static func selfReporting(_ events: [EventRecord]) -> Set<String> {
        Set(events.lazy.filter(isOwn).map(key))
    }

    /// `events` without the observed events that a client reports itself.
    public static func visible(_ events: [EventRecord]) -> [EventRecord] {
        let own = selfReporting(events)
        guard !own.isEmpty else { return events }
        return events.filter { !isObserved($0) || !own.contains(key($0)) }
    }
}
