public import ScenarioJudging

/// A property every schedule must keep, derived from the client's declared settings. Each becomes
/// a check of the schedule's scenario; the judge decides it from the run's recording.
public enum Property: Sendable, Hashable, CustomStringConvertible {
    /// The client answered its first heartbeat: not a property — a world that never gets there
    /// is a setup problem.
    case start
    /// A silent loss that outlasts the deadline is reported within it; a connection that ends is
    /// noticed within it.
    case detection(episode: Int)
    /// No death declared while heartbeats and replies got through in time.
    case noFalseDeath(episode: Int)
    /// Connected with a heartbeat answered within what its own reconnect policy allows.
    case recovery(episode: Int)
    /// `gave-up` only once max attempts could have been spent (never, without max attempts).
    case gaveUp(episode: Int?)
    /// One connection at a time per client.
    case oneConnection
    /// No gap between attempts shorter than the backoff allows.
    case backoff
    /// No attempt after the user closed the client.
    case noReconnectAfterClose
    /// The file's own `assert:` line N.
    case fileAssertion(Int)
    /// A step of the schedule itself that could not be performed (not the client's fault).
    case schedule

    /// Its name, which the shrinker keeps constant ("the same property").
    public var name: String {
        switch self {
        case .start: "start"
        case .detection: "detection"
        case .noFalseDeath: "no-false-death"
        case .recovery: "recovery"
        case .gaveUp: "gave-up-early"
        case .oneConnection: "one-connection"
        case .backoff: "backoff"
        case .noReconnectAfterClose: "no-reconnect-after-close"
        case .fileAssertion(let n): "assert-\(n)"
        case .schedule: "schedule"
        }
    }

    public var episode: Int? {
        switch self {
        case .detection(let e), .noFalseDeath(let e), .recovery(let e): e
        case .gaveUp(let e): e
        default: nil
        }
    }

    /// Whether a failure of it is the client's (a violation) rather than the world's (a setup error).
    public var isClientProperty: Bool { self != .start && self != .schedule }

    public var description: String { name + (episode.map { " (fault \($0 + 1))" } ?? "") }
}

/// A property the run broke, with the judge's measurement.
public struct Violation: Sendable, Hashable {
    public var property: Property
    public var verdict: Verdict

    /// `recovery (fault 2): client heartbeat-acked not seen within 1.85s …`
    public var line: String { "\(property): \(verdict.label) — \(verdict.message)" }
}
