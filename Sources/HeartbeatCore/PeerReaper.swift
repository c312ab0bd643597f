public import EventSchema
/// The server-side twin of the client's heartbeat: decides when a silent client is dead.
///
/// Traffic only moves `lastTraffic` forward (no timer churn on the hot path); when the single
/// timer fires, the reaper either declares the peer dead or asks for the timer again at the new
/// deadline.
public struct PeerReaper: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        /// The peer was silent for `silentFor` (≥ `reapAfter`): close it.
        case reap(silentFor: Duration)
        /// Not yet; fire the timer again at this instant.
        case checkAgain(at: Instant)
        /// Already reaped; nothing to do.
        case none
    }

    public let reapAfter: Duration
    public private(set) var lastTraffic: Instant
    public private(set) var isReaped = false

    public init(reapAfter: Duration, now: Instant) {
        self.reapAfter = reapAfter
        self.lastTraffic = now
    }

    /// When the timer should first fire.
    public var deadline: Instant { lastTraffic + reapAfter }

    /// Any inbound frame from the peer.
    public mutating func trafficReceived(now: Instant) {
        if now > lastTraffic { lastTraffic = now }
    }

    public mutating func timerFired(now: Instant) -> Decision {
        guard !isReaped else { return .none }
        let silent = now - lastTraffic
        if silent >= reapAfter {
            isReaped = true
            return .reap(silentFor: silent)
        }
        return .checkAgain(at: deadline)
    }
}
