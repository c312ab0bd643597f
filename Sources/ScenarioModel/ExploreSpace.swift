/// A scenario file's optional `explore:` section: what `flatline explore` may draw for this world.
/// Every field is optional; what is left out is derived from the client's own settings when the
/// schedules are drawn (the Exploration target owns those defaults).
///
///     explore:
///       kinds: [blackhole, power-loss, server-kill]   # default: every kind valid in the mode
///       targets: [all, existing]                      # which connections a link fault takes
///       durations: {min: 100ms, max: 3s}              # how long each fault lasts
///       gaps: {min: 300ms, max: 1s}                   # the quiet time before each fault
///       faults: {min: 1, max: 4}                      # faults per schedule
///       length: 12s                                   # a schedule's faults and gaps, at most
///       clients: {min: 1, max: 2}                     # client count per schedule
///       margin: 150ms                                 # added to every derived bound
public struct ExploreSpace: Sendable, Hashable {
    public var kinds: [ExploreKind]?
    public var targets: [ExploreTarget]?
    public var durations: ClosedRange<Duration>?
    public var gaps: ClosedRange<Duration>?
    public var faults: ClosedRange<Int>?
    public var length: Duration?
    public var clients: ClosedRange<Int>?
    public var margin: Duration?

    public init() {}

    public static let keys = ["kinds", "targets", "durations", "gaps", "faults", "length", "clients", "margin"]
}

/// Which connections a drawn link fault takes (`FaultTarget` without the connection number).
public enum ExploreTarget: String, Sendable, Hashable, CaseIterable {
    case all, existing, new
}

/// What exploration can do to a world, by the name the `explore:` section uses. Each is a fault on
/// the link, an act of the server, or the user closing the client; exploration turns each into
/// timeline steps and knows what a heartbeat must do about it.
public enum ExploreKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// A pulled cable: silent both ways, kept and delivered on heal.
    case blackhole
    /// The client's heartbeats are lost (silent client → server).
    case lossUpstream = "loss-upstream"
    /// The replies are lost (silent server → client).
    case lossDownstream = "loss-downstream"
    /// Bytes held both ways and delivered on heal (a stall).
    case hold
    /// The server's host loses power: silent for good, its connections never come back.
    case powerLoss = "power-loss"
    /// An RST to both peers.
    case reset
    /// A FIN to both peers.
    case close
    /// The listener refuses new connections (existing ones are untouched).
    case refuse
    /// Every chunk delayed by less than half the timeout each way: heartbeats still answered in time.
    case latencyBelow = "latency-below"
    /// Every chunk delayed so that a reply comes after the timeout.
    case latencyAbove = "latency-above"
    /// The replies to RFC 6455 pings dropped (ping dialect), or the text replies (other dialects).
    case dropReplies = "drop-replies"
    /// A NAT that forgets connections idle for twice the heartbeat interval: a heartbeat that keeps
    /// going keeps the mapping, so nothing may be lost.
    case natExpiry = "nat-expiry"
    /// A load balancer that closes connections idle for twice the heartbeat interval: the same.
    case idleClose = "idle-close"
    /// The server stops cleanly and starts again.
    case serverStop = "server-stop"
    /// The server is killed (SIGKILL where it is a process) and started again.
    case serverKill = "server-kill"
    /// The server is frozen (SIGSTOP) and resumed.
    case serverFreeze = "server-freeze"
    /// The server stops answering heartbeats, then answers again.
    case serverMute = "server-mute"
    /// The user closes the client (always the last thing a schedule does).
    case clientClose = "client-close"

    public static func < (a: ExploreKind, b: ExploreKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Kinds that act on the link (and take a target).
    public var isLinkFault: Bool {
        switch self {
        case .blackhole, .lossUpstream, .lossDownstream, .hold, .powerLoss, .reset, .close, .latencyBelow, .latencyAbove, .dropReplies, .natExpiry, .idleClose: true
        case .refuse, .serverStop, .serverKill, .serverFreeze, .serverMute, .clientClose: false
        }
    }
}
