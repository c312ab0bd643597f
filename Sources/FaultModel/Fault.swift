public import EventSchema

/// Which way a fault acts: `upstream` is client → server, `downstream` server → client.
public enum FaultDirection: String, Sendable, Hashable, CaseIterable {
    case upstream, downstream, both

    public func includes(_ flow: Flow) -> Bool {
        switch self {
        case .both: true
        case .upstream: flow == .upstream
        case .downstream: flow == .downstream
        }
    }
}

/// One of the two byte streams of a proxied connection.
public enum Flow: String, Sendable, Hashable, CaseIterable {
    /// Client → server.
    case upstream
    /// Server → client.
    case downstream
}

/// Which connections a fault applies to.
public enum FaultTarget: Sendable, Hashable, CustomStringConvertible {
    /// Connections open when the fault is added and every new one.
    case all
    /// Only connections open when the fault is added.
    case existing
    /// Only connections opened while the fault is on.
    case new
    /// Only connection number N (as in the `conn` field of proxy events).
    case connection(UInt64)

    public var description: String {
        switch self {
        case .all: "all"
        case .existing: "existing"
        case .new: "new"
        case .connection(let n): "connection #\(n)"
        }
    }

    public var jsonValue: JSONValue {
        switch self {
        case .all: "all"
        case .existing: "existing"
        case .new: "new"
        case .connection(let n): .int(Int64(n))
        }
    }
}

/// WebSocket frames a `drop-frames` fault removes from one direction.
public struct FrameMatcher: Sendable, Hashable {
    /// Opcodes to drop: `ping`, `pong`, `close`, `text`, `binary`.
    public var opcodes: Set<String>
    /// Drop text messages containing this substring (after unmasking).
    public var textPattern: String?

    public init(opcodes: Set<String> = [], textPattern: String? = nil) {
        self.opcodes = opcodes
        self.textPattern = textPattern
    }

    public static let opcodeNames = ["continuation", "text", "binary", "close", "ping", "pong"]
}

/// The kinds of fault, by their canonical name in the control API (Toxiproxy's names for its own
/// toxics): the one key that joins a ``FaultKind`` to its entry in the catalog.
public enum FaultType: String, Sendable, Hashable, CaseIterable {
    case blackhole, hold, latency, bandwidth, slicer, timeout, close, refuse, loss
    case powerLoss = "power_loss"
    case limitData = "limit_data"
    case slowClose = "slow_close"
    case resetPeer = "reset_peer"
    case dropFrames = "drop_frames"
    case natExpiry = "nat_expiry"
    case idleClose = "idle_close"
}

/// What a NAT does with the packets of a connection it has forgotten (`nat-expiry`'s `then`).
public enum ForgottenPackets: String, Sendable, Hashable, CaseIterable {
    /// Dropped without a word: the sender retransmits into the void.
    case drop
    /// Answered with RST to whichever peer sends next.
    case reset
}

/// How a load balancer closes an idle connection (`idle-close`'s `with`).
public enum IdleCloseHow: String, Sendable, Hashable, CaseIterable {
    case fin, rst
}

/// What a fault does. Times are the ones Toxiproxy uses, as `Duration`s.
public enum FaultKind: Sendable, Hashable {
    /// A pulled cable: nothing delivered, no FIN or RST, everything kept in order and delivered on
    /// heal; new connections are accepted, held and dialled on heal.
    case blackhole
    /// Keep the bytes (in order, up to `capBytes`) and deliver them when the fault is removed.
    case hold(capBytes: Int)
    /// Existing connections go silent for good; new ones are accepted and stay silent until healed.
    case powerLoss
    /// Delay each chunk by `latency` ± a random amount up to `jitter`.
    case latency(latency: Duration, jitter: Duration)
    /// Throttle to `kilobytesPerSecond` (KB = 1000 bytes, as Toxiproxy).
    case bandwidth(kilobytesPerSecond: Int)
    /// Cut data into writes of `averageSize` ± `sizeVariation` bytes, `delay` apart.
    case slicer(averageSize: Int, sizeVariation: Int, delay: Duration)
    /// Close the connection once `bytes` have gone through in this direction.
    case limitData(bytes: Int)
    /// Delay the forwarding of a close (FIN) by `delay`.
    case slowClose(delay: Duration)
    /// Drop all data and close the connection after `timeout` (never when 0); removing it closes the
    /// connections it was applied to (Toxiproxy's `timeout`).
    case timeout(Duration)
    /// Reset (RST) both peers after `after`.
    case reset(after: Duration)
    /// Close both peers cleanly (FIN).
    case close
    /// Close the listener: new connections are refused.
    case refuse
    /// Drop matching WebSocket frames, leaving other traffic intact.
    case dropFrames(FrameMatcher)
    /// Drop `percent` % of the packets at random (packet mode only: a userland proxy sees no packets).
    case loss(percent: Int)
    /// A NAT or stateful firewall that forgets a connection idle (no byte either way) for `idle`:
    /// from then on its packets are dropped or answered with RST; new connections get new mappings.
    case natExpiry(idle: Duration, then: ForgottenPackets)
    /// A load balancer that closes a connection idle for `idle`, to both peers, with FIN or RST.
    case idleClose(idle: Duration, with: IdleCloseHow)

    /// How long a connection may stay idle under an idle-based fault, or nil for other kinds.
    public var idleLimit: Duration? {
        switch self {
        case .natExpiry(let idle, _), .idleClose(let idle, _): idle
        default: nil
        }
    }

    /// Its type: the catalog's key (``FaultCatalog/spec(of:)``).
    public var type: FaultType {
        switch self {
        case .blackhole: .blackhole
        case .hold: .hold
        case .powerLoss: .powerLoss
        case .latency: .latency
        case .bandwidth: .bandwidth
        case .slicer: .slicer
        case .limitData: .limitData
        case .slowClose: .slowClose
        case .timeout: .timeout
        case .reset: .resetPeer
        case .close: .close
        case .refuse: .refuse
        case .dropFrames: .dropFrames
        case .loss: .loss
        case .natExpiry: .natExpiry
        case .idleClose: .idleClose
        }
    }

    /// The canonical type name in the control API (Toxiproxy's names for its own toxics).
    public var typeName: String { type.rawValue }

    /// What the fault acts on: a byte stream, whole connections or the listener (the catalog says).
    public var scope: FaultSpec.Scope { FaultCatalog.spec(of: self).scope }
}

/// A named fault as added to a proxy.
public struct Fault: Sendable, Hashable {
    public var name: String
    public var kind: FaultKind
    public var direction: FaultDirection
    /// Probability that the fault applies to a given connection (decided once per connection).
    public var toxicity: Double
    public var target: FaultTarget

    public init(_ kind: FaultKind, name: String? = nil, direction: FaultDirection = .both, toxicity: Double = 1, target: FaultTarget = .all) {
        self.kind = kind
        self.direction = kind.scope == .flow ? direction : .both
        self.name = name ?? "\(kind.typeName)_\(self.direction.rawValue)"
        self.toxicity = toxicity
        self.target = target
    }

    /// Its attributes as the control API writes them (`{"latency": 300, "jitter": 0}`).
    public var attributesJSON: JSONValue { .object(FaultCatalog.spec(of: kind).attributesJSON(kind)) }

    /// Whether the fault takes one more connection: always at toxicity 1, else as one draw of `random` falls.
    public func takes(using random: inout SplitMix64) -> Bool { toxicity >= 1 || random.nextUnit() < toxicity }

    /// The fields of its `fault-on` event; `enforcedBy` names what carries it out when the proxy
    /// does not (`nftables` in packet mode).
    public func onFields(enforcedBy enforcer: String? = nil) -> JSONObject {
        var fields: JSONObject = [
            "fault": .string(name), "kind": .string(kind.typeName), "direction": .string(direction.rawValue),
            "toxicity": .double(toxicity), "target": target.jsonValue, "attributes": attributesJSON,
        ]
        if let enforcer { fields["enforced"] = .string(enforcer) }
        return fields
    }

    public func validate() throws(ConfigurationError) {
        guard !name.isEmpty else { throw ConfigurationError("a fault needs a non-empty name") }
        guard toxicity.isFinite, (0...1).contains(toxicity) else {
            throw ConfigurationError("toxicity must be between 0 and 1, got \(toxicity)")
        }
        let maxDelay = Duration.seconds(3600)
        func checkTime(_ value: Duration, _ attribute: String) throws(ConfigurationError) {
            guard value >= .zero else { throw ConfigurationError("\(attribute) must not be negative") }
            guard value <= maxDelay else { throw ConfigurationError("\(attribute) of \(value.flatlineDescription) is longer than an hour") }
        }
        switch kind {
        case .hold(let cap):
            guard cap > 0, cap <= 1 << 30 else { throw ConfigurationError("hold cap_bytes must be between 1 and 1 GiB, got \(cap)") }
        case .latency(let latency, let jitter):
            try checkTime(latency, "latency")
            try checkTime(jitter, "jitter")
        case .bandwidth(let rate):
            // 0 is Toxiproxy's "no limit".
            guard rate >= 0 else { throw ConfigurationError("bandwidth rate must not be negative (KB/s), got \(rate)") }
        case .slicer(let average, let variation, let delay):
            guard average > 0 else { throw ConfigurationError("slicer average_size must be positive, got \(average)") }
            guard variation >= 0, variation < average else {
                throw ConfigurationError("slicer size_variation must be between 0 and average_size - 1, got \(variation)")
            }
            try checkTime(delay, "slicer delay")
        case .limitData(let bytes):
            guard bytes >= 0 else { throw ConfigurationError("limit_data bytes must not be negative, got \(bytes)") }
        case .slowClose(let delay):
            try checkTime(delay, "slow_close delay")
        case .timeout(let timeout):
            try checkTime(timeout, "timeout")
        case .reset(let after):
            try checkTime(after, "reset_peer timeout")
        case .dropFrames(let matcher):
            guard !matcher.opcodes.isEmpty || matcher.textPattern != nil else {
                throw ConfigurationError("drop_frames needs opcodes (e.g. [\"pong\"]) or a pattern (e.g. \"heart_beat\")")
            }
            if let unknown = matcher.opcodes.first(where: { !FrameMatcher.opcodeNames.contains($0) }) {
                let suggestion = closestMatch(to: unknown, in: FrameMatcher.opcodeNames).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigurationError("unknown opcode '\(unknown)'\(suggestion); use \(FrameMatcher.opcodeNames.joined(separator: ", "))")
            }
            if matcher.textPattern == "" { throw ConfigurationError("drop_frames pattern must not be empty") }
        case .loss(let percent):
            guard (0...100).contains(percent) else { throw ConfigurationError("loss percent must be between 0 and 100, got \(percent)") }
        case .natExpiry(let idle, _), .idleClose(let idle, _):
            guard idle > .zero else { throw ConfigurationError("\(kind.typeName) idle must be longer than 0") }
            try checkTime(idle, "\(kind.typeName) idle")
        case .blackhole, .powerLoss, .close, .refuse:
            break
        }
    }
}
