public import ScenarioModel
public import EventSchema
import FaultModel

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
        let capture = events.first { $0.type == .runner(.capture) }
        if capture?.fields["status"] == "started" {
            wireMissing = nil
        } else {
            wireMissing = capture?.fields["reason"]?.stringValue ?? "the run was not captured (use capture: true or --capture)"
        }
        // The built-in client reports its own events; an external one if it prints them, and the
        // proxy observes its connections (ClientObserver) — its heartbeats only when they are
        // RFC 6455 pings and pongs.
        if case .external(_, _, let heartbeat, _) = scenario.client {
            // Its connections are observed when it has a proxy listener of its own (recorded as
            // `runner observing`): then not seeing one is evidence. What the proxy cannot see needs
            // the client's own events.
            let printed = events.contains(where: ClientSources.isOwn)
            observing = events.contains { $0.type == .runner(.observing) }
            if !printed {
                clientMissing = observing
                    ? "the external client printed no events in the schema (only output), and the proxy cannot observe that"
                    : "the external client printed no events in the schema (only output), and nothing observed its connections"
            }
            selfReporting = events.contains { ClientSources.isOwn($0) && !$0.type.isClientHeartbeat }
            let printedHeartbeats = events.contains { ClientSources.isOwn($0) && $0.type.isClientHeartbeat }
            if !printedHeartbeats, !(observing && ClientSources.canSee(heartbeat.dialect)) {
                heartbeatMissing = observing
                    ? "the external client printed no heartbeat events, and its heartbeats (\(heartbeat.dialect.name) dialect) are not visible to the proxy"
                    : "the external client printed no heartbeat events, and nothing observed its connections"
            }
        } else {
            selfReporting = true
        }
        if events.contains(where: { $0.type == .proxy(.faultOn) && $0.fields["kind"]?.stringValue == FaultType.natExpiry.rawValue && $0.fields["enforced"] != nil }) {
            idleInKernel = "in packet mode the kernel's conntrack forgets the flows of a nat-expiry and the proxy is not told (proxy idle-expired is the proxy mode's own report)"
        }
        // Packet mode: the cable's drop rules act on what the client sends before the proxy sees
        // it; only a capture sees the client's side of the cable.
        if scenario.network == .packet, wireMissing != nil, observing, !selfReporting {
            clientSideHidden = "packet mode without a capture: the cable's drop rules hide what the client sends (its close frame, FIN, RST, new SYNs) from the proxy until the fault is gone, and only a capture sees the client's side of the cable (run with --capture)"
        }
    }

    /// Why the proxy's `idle-expired` cannot be seen (packet mode: the kernel's conntrack forgets
    /// the flows of a NAT expiry, the proxy is not told), or nil.
    public var idleInKernel: String?

    /// Whether the client reports its own connection events (the built-in client does); then
    /// those are its events, and the observed ones stand aside.
    public var selfReporting = false

    /// Why what the client sends cannot be timed from outside (packet mode without a capture), or nil.
    public var clientSideHidden: String?

    /// Observed-only client events: what a black-box client's connections show from outside.
    static let blackBoxTypes: Set<ClientEventType> = [.closeSent, .abandoned]
    /// Client events whose instant is the client's own act on its side of the cable.
    static let clientSideTypes: Set<ClientEventType> = [.closeSent, .abandoned, .disconnected]

    /// Whether the proxy observed each client's connections (ClientObserver).
    public var observing = false

    /// Client events the proxy derives for every external client (ClientObserver).
    static let observedTypes: Set<ClientEventType> = [.connecting, .connected, .disconnected]

    /// Why the client's heartbeat events are missing (nil: printed by the client, or pings the proxy saw).
    public var heartbeatMissing: String?

    /// Why events of `pattern` cannot have been observed in this run, or nil.
    public func missing(for pattern: EventPattern) -> String? {
        if pattern.source == .wire { return wireMissing }
        if pattern.kind == .event(.proxy(.idleExpired)), let idleInKernel { return idleInKernel }
        guard let type = pattern.clientType else { return nil }
        return switch type {
        case _ where ClientSources.runnerMade.contains(type): nil
        case _ where Self.blackBoxTypes.contains(type):
            if selfReporting {
                "the client reports its own connection events: `\(type.rawValue)` is what Flatline observes of a client that prints none (check `client disconnected`, the client's own word)"
            } else if !observing {
                clientMissing ?? "nothing observed the client's connections (\(type.rawValue) is observed only where each client has a proxy listener of its own)"
            } else {
                clientSideHidden
            }
        case _ where Self.clientSideTypes.contains(type) && clientSideHidden != nil: clientSideHidden
        case _ where Self.observedTypes.contains(type): observing ? nil : clientMissing
        case _ where type.eventType.isClientHeartbeat: heartbeatMissing
        default: clientMissing.map { "\($0) (\(type.rawValue))" }
        }
    }

    func missing(for assertion: Assertion) -> String? {
        switch assertion.kind {
        case .count(let pattern, _, _), .spread(let pattern, _, _): missing(for: pattern)
        // Connections and the gaps between them are observed where each client has its listener.
        case .maxConcurrent, .reconnectGaps, .reconnectGapsNonDecreasing, .reconnectGapSpread, .reconnectGapShortest:
            observing ? clientSideHidden : clientMissing
        }
    }
}
