import EventSchema
public import HeartbeatCore
public import ScenarioModel
public import FaultModel

/// How a client's connection events reach the judge, which decides the patterns its properties use.
public enum ClientReporting: String, Sendable {
    /// The built-in client: its own events, reasons included.
    case builtin
    /// An external client that prints its events in the schema.
    case selfReporting = "self-reporting"
    /// An external client that prints none: judged from what the proxy sees of it.
    case blackBox = "black-box"
}

/// A world to explore: a scenario file's client, server, settings and network mode, with what may
/// be drawn resolved — the `explore:` section where it says, defaults from the client's own
/// settings where it does not. Every bound a property uses is computed here, once.
public struct ExploreWorld: Sendable {
    public let scenario: Scenario
    public let reporting: ClientReporting
    /// Whether the client's heartbeats can be seen (printed, or pings and messages the proxy sees).
    public let heartbeatsVisible: Bool
    public let kinds: [ExploreKind]
    public let targets: [ExploreTarget]
    public let durations: ClosedRange<Duration>
    public let gaps: ClosedRange<Duration>
    public let faults: ClosedRange<Int>
    public let length: Duration
    public let clients: ClosedRange<Int>
    public let margin: Duration

    public var heartbeat: HeartbeatPolicy { scenario.client.heartbeat }
    public var reconnect: ReconnectPolicy { scenario.client.reconnect }
    public var network: NetworkMode { scenario.network }

    /// Resolves the world; an `explore:` section that asks for what this world cannot do is an
    /// error naming the kind and why.
    public init(_ scenario: Scenario, reporting: ClientReporting, heartbeatsVisible: Bool = true) throws(ScenarioError) {
        self.scenario = scenario
        self.reporting = reporting
        self.heartbeatsVisible = heartbeatsVisible
        let space = scenario.explore ?? ExploreSpace()
        let location = scenario.file
        margin = space.margin ?? .milliseconds(200)
        let heartbeat = scenario.client.heartbeat
        let reconnect = scenario.client.reconnect
        let detection = heartbeat.detectionBound + (heartbeat.closeGrace ?? .zero)

        var valid: [ExploreKind] = []
        var why: [ExploreKind: String] = [:]
        for kind in ExploreKind.allCases {
            if let reason = Self.invalid(kind, scenario: scenario, margin: margin) { why[kind] = reason } else { valid.append(kind) }
        }
        if let asked = space.kinds {
            let refused = asked.filter { why[$0] != nil }
            guard refused.isEmpty else {
                throw ScenarioError(location: location, message: "explore: " + refused.map { "\($0.rawValue) cannot be drawn here: \(why[$0]!)" }.joined(separator: "; "))
            }
            kinds = asked.sorted()
        } else {
            kinds = valid
        }
        let allTargets: [ExploreTarget] = scenario.network == .packet ? [.all] : ExploreTarget.allCases
        if let asked = space.targets {
            if scenario.network == .packet, asked != [.all] {
                throw ScenarioError(location: location, message: "explore: targets: packet mode applies a fault to every connection; only 'all' can be drawn (use network: proxy for existing or new)")
            }
            targets = asked
        } else {
            targets = allTargets
        }
        // From a fraction of the heartbeat interval to several detection deadlines.
        durations = space.durations ?? max(heartbeat.interval / 4, .milliseconds(20))...(detection * 3 + margin)
        gaps = space.gaps ?? max(heartbeat.interval / 2, .milliseconds(50))...(detection + Self.largestDelay(reconnect, attempts: 3) + heartbeat.interval + margin) * 2
        faults = space.faults ?? 1...4
        clients = space.clients ?? scenario.client.count...scenario.client.count
        length = space.length ?? (durations.upperBound + gaps.upperBound) * faults.upperBound
    }

    /// Why `kind` cannot be drawn in this world, or nil.
    static func invalid(_ kind: ExploreKind, scenario: Scenario, margin: Duration) -> String? {
        let heartbeat = scenario.client.heartbeat
        if kind.isLinkFault || kind == .refuse {
            let fault = Self.fault(for: kind, dialect: heartbeat.dialect, latency: .milliseconds(1), idle: idleLimit(scenario, margin: margin), target: .all)
            guard let fault else { return "the \(heartbeat.dialect.name) dialect's heartbeats cannot be picked out of the stream" }
            if scenario.network == .packet, case .failure(let reason) = PacketForm.of(fault) { return reason.description }
        }
        switch kind {
        case .latencyBelow where heartbeat.timeout <= margin * 2:
            return "a latency whose round trip stays below the timeout (\(heartbeat.timeout.flatlineDescription)) by the margin (\(margin.flatlineDescription)) leaves no room"
        case .serverStop, .serverKill, .serverFreeze:
            if case .upstream? = scenario.externalServer { return "the server is an upstream Flatline did not start" }
        case .serverMute:
            if scenario.externalServer != nil { return "only the built-in server can be muted" }
        default: break
        }
        return nil
    }

    /// The fault a link kind is carried out as (nil: the dialect's replies cannot be told apart).
    public static func fault(for kind: ExploreKind, dialect: HeartbeatDialect, latency: Duration, idle: Duration, target: ExploreTarget, name: String? = nil) -> Fault? {
        let faultTarget: FaultTarget = switch target {
        case .all: .all
        case .existing: .existing
        case .new: .new
        }
        switch kind {
        case .blackhole: return Fault(.blackhole, name: name, target: faultTarget)
        case .lossUpstream: return Fault(.blackhole, name: name, direction: .upstream, target: faultTarget)
        case .lossDownstream: return Fault(.blackhole, name: name, direction: .downstream, target: faultTarget)
        case .hold: return Fault(.hold(capBytes: 1 << 20), name: name, target: faultTarget)
        case .powerLoss: return Fault(.powerLoss, name: name, target: faultTarget)
        case .reset: return Fault(.reset(after: .zero), name: name, target: faultTarget)
        case .close: return Fault(.close, name: name, target: faultTarget)
        case .refuse: return Fault(.refuse, name: name)
        case .latencyBelow, .latencyAbove: return Fault(.latency(latency: latency, jitter: .zero), name: name, target: faultTarget)
        case .natExpiry: return Fault(.natExpiry(idle: idle, then: .drop), name: name, target: faultTarget)
        case .idleClose: return Fault(.idleClose(idle: idle, with: .fin), name: name, target: faultTarget)
        case .dropReplies:
            switch dialect {
            case .ping: return Fault(.dropFrames(FrameMatcher(opcodes: ["pong"])), name: name, direction: .downstream, target: faultTarget)
            case .json, .text: return Fault(.dropFrames(FrameMatcher(opcodes: ["text"])), name: name, direction: .downstream, target: faultTarget)
            case .serverPush: return nil
            }
        case .serverStop, .serverKill, .serverFreeze, .serverMute, .clientClose: return nil
        }
    }

    /// The idle time of a drawn NAT expiry or idle close: two heartbeat intervals and the margin, so
    /// that a heartbeat that keeps going (and its reply) keeps every connection busy enough; whole
    /// seconds in packet mode, where the kernel's conntrack counts it.
    public static func idleLimit(_ scenario: Scenario, margin: Duration) -> Duration {
        let idle = scenario.client.heartbeat.interval * 2 + margin
        guard scenario.network == .packet else { return idle }
        let second: Int64 = 1_000_000_000
        return .nanoseconds((idle.nanoseconds + second - 1) / second * second)
    }

    public var idleLimit: Duration { Self.idleLimit(scenario, margin: margin) }

    /// The event that shows a heartbeat got through: a reply, or a server's push.
    public var heartbeatEvent: String {
        if case .serverPush = heartbeat.dialect { "client heartbeat-received" } else { "client heartbeat-acked" }
    }

    // MARK: Bounds

    /// How long a silent loss may go unreported: the dialect's deadline, plus the close grace a
    /// client declares it waits before it reports.
    public var detection: Duration { heartbeat.detectionBound + (heartbeat.closeGrace ?? .zero) }

    /// The same, as the scenario writes it.
    public var detectionExpression: String {
        "heartbeat.detection" + (heartbeat.closeGrace != nil ? " + heartbeat.close-grace" : "")
    }

    /// The longest delay the reconnect policy allows before any of its first `attempts` attempts.
    public static func largestDelay(_ policy: ReconnectPolicy, attempts: Int) -> Duration {
        (1...max(1, min(attempts, 64))).map { policy.delayBounds(attempt: $0).upperBound }.max() ?? .zero
    }

    /// At most how many attempts of a client fail while `episode` lasts (nil: no bound — a policy
    /// whose shortest delay is zero can make any number). An attempt fails no faster than the
    /// episode lets it: at once where the server is down or connections are reset (the shortest
    /// delay apart), at the connect timeout where they hang (blackhole, power loss, a frozen
    /// server), after its heartbeat timeout where they open and die; where new connections work
    /// or the current one is untouched, one attempt at most.
    public func attemptsPossible(during episode: Schedule.Episode) -> Int? {
        let delay = reconnect.delayBounds(attempt: 1).lowerBound
        let cycle: Duration?
        switch episode.kind {
        case .serverStop, .serverKill: cycle = delay
        case .reset, .close: cycle = episode.target == .existing ? nil : delay
        case .blackhole, .lossUpstream, .lossDownstream, .hold, .powerLoss:
            cycle = episode.target == .all ? delay + reconnect.connectTimeout : nil
        case .serverFreeze: cycle = delay + reconnect.connectTimeout
        case .serverMute: cycle = delay + heartbeat.timeout
        case .latencyAbove, .dropReplies: cycle = episode.target == .all ? delay + heartbeat.timeout : nil
        case .latencyBelow, .refuse, .clientClose, .natExpiry, .idleClose: cycle = nil
        }
        guard let cycle else { return 1 }
        guard cycle > .zero else { return nil }
        // Timers never fire early: the k-th attempt starts after k shortest delays, so at most
        // duration / cycle of them fail inside the episode — plus, where attempts hang, the one
        // still hanging at the heal (a SYN lost in packet mode is retried on the kernel's clock).
        let hangs = cycle > delay
        return Int(episode.duration / cycle) + (hangs ? 1 : 0)
    }

    /// From a heal, how long the client may take to be connected with a heartbeat answered after
    /// `attempts` attempts (nil: any number): a detection still under way, the longest delay its
    /// policy allows for the next attempt, an attempt's connect (packet mode: its timeout, since a
    /// SYN lost in the outage is retried on the kernel's schedule), a heartbeat interval, the margin.
    public func recovery(afterAttempts attempts: Int?) -> Duration {
        var bound = detection + Self.largestDelay(reconnect, attempts: (attempts ?? 64) + 1) + heartbeat.interval + margin
        if network == .packet { bound += reconnect.connectTimeout + .seconds(1) }
        return bound
    }
}
