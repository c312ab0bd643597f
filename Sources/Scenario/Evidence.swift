public import EventSchema

/// What a run could have observed: a check whose events no source of the run could produce is
/// not judged, with the reason.
public struct Evidence: Sendable {
    /// Why wire events are missing (nil: the wire was captured).
    public var wireMissing: String?
    /// Why client events are missing (nil: a source of them existed).
    public var clientMissing: String?

    public init(wireMissing: String? = nil, clientMissing: String? = nil) {
        self.wireMissing = wireMissing
        self.clientMissing = clientMissing
    }

    /// Reads what was observed off a recording.
    public init(scenario: Scenario, events: [EventRecord]) {
        let capture = events.first { $0.source == "runner" && $0.type == RunnerEventType.capture.rawValue }
        if capture?.fields["status"] == "started" {
            wireMissing = nil
        } else {
            wireMissing = capture?.fields["reason"]?.stringValue ?? "the run was not captured (use capture: true or --capture)"
        }
        // The built-in client reports its own events; an external one if it prints them, and the
        // proxy observes its connections (ClientObserver) — its heartbeats only when they are
        // RFC 6455 pings and pongs.
        if case .external(_, _, let heartbeat, _) = scenario.client {
            let printed = events.contains(where: ClientSources.isOwn)
            let observed = events.contains(where: ClientSources.isObserved)
            if !printed, !observed {
                clientMissing = "the external client printed no events in the schema (only output), and the proxy saw none of its connections"
            }
            let printedHeartbeats = events.contains { ClientSources.isOwn($0) && $0.type.hasPrefix("heartbeat-") }
            if !printedHeartbeats, heartbeat.dialect != .ping {
                heartbeatMissing = "the external client printed no heartbeat events, and its heartbeats (\(heartbeat.dialect.name) dialect) are not visible to the proxy; only RFC 6455 pings and pongs are"
            }
        }
    }

    /// Why the client's heartbeat events are missing (nil: printed by the client, or pings the proxy saw).
    public var heartbeatMissing: String?

    /// Why events of `pattern` cannot have been observed in this run, or nil.
    public func missing(for pattern: EventPattern) -> String? {
        switch pattern.source {
        case "wire": wireMissing
        case "client" where pattern.type.hasPrefix("heartbeat-"): clientMissing ?? heartbeatMissing
        case "client" where pattern.type != ClientEventType.output.rawValue && pattern.type != ClientEventType.exited.rawValue: clientMissing
        default: nil
        }
    }

    func missing(for assertion: Assertion) -> String? {
        switch assertion.kind {
        case .count(let pattern, _, _), .spread(let pattern, _, _): missing(for: pattern)
        case .maxConcurrent, .reconnectGaps, .reconnectGapsNonDecreasing, .reconnectGapSpread: clientMissing
        }
    }
}
