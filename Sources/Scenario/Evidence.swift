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
        // The built-in client reports its own events; an external one only if it prints them.
        if case .external = scenario.client {
            let own: Set<String> = [ClientEventType.output.rawValue, ClientEventType.exited.rawValue, ClientEventType.outputTruncated.rawValue]
            let printed = events.contains { $0.source == "client" && !own.contains($0.type) }
            clientMissing = printed ? nil : "the external client printed no events in the schema (only output), so nothing observed its connections"
        }
    }

    /// Why events of `pattern` cannot have been observed in this run, or nil.
    public func missing(for pattern: EventPattern) -> String? {
        switch pattern.source {
        case "wire": wireMissing
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
