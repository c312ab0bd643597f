public import EventSchema

/// Application messages a client sends on its own, so that heartbeats can be tested under load
/// (for example a heartbeat reply queued behind a large message).
public struct MessageSchedule: Sendable, Hashable {
    /// Size of each message's payload in bytes.
    public var bytes: Int
    /// Time between messages while connected.
    public var every: Duration

    /// The size and period when not given.
    public static let defaultBytes = 100
    public static let defaultEvery = Duration.seconds(1)

    public init(bytes: Int, every: Duration) {
        self.bytes = bytes
        self.every = every
    }
}

/// Everything a ``HeartbeatClient`` needs to know.
public struct HeartbeatClientConfiguration: Sendable, Hashable {
    public var url: WebSocketURL
    public var heartbeat: HeartbeatPolicy
    public var reconnect: ReconnectPolicy
    /// Largest inbound frame (and reassembled message) accepted; larger ones are a protocol error.
    public var maxFrameSize: Int
    public var messages: MessageSchedule?
    /// Seed for reconnect jitter; nil draws one from the system.
    public var randomSeed: UInt64?

    /// The largest inbound frame when not given: 1 MiB.
    public static let defaultMaxFrameSize = 1 << 20

    public init(
        url: WebSocketURL,
        heartbeat: HeartbeatPolicy = HeartbeatPolicy(),
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        maxFrameSize: Int = defaultMaxFrameSize,
        messages: MessageSchedule? = nil,
        randomSeed: UInt64? = nil
    ) {
        self.url = url
        self.heartbeat = heartbeat
        self.reconnect = reconnect
        self.maxFrameSize = maxFrameSize
        self.messages = messages
        self.randomSeed = randomSeed
    }

    public func validate() throws(ConfigurationError) {
        try heartbeat.validate()
        try reconnect.validate()
        guard maxFrameSize >= 125, maxFrameSize <= Int(UInt32.max) else {
            throw ConfigurationError("max frame size must be between 125 bytes and 4 GiB, got \(maxFrameSize)")
        }
        if let messages {
            guard messages.bytes >= 0 else { throw ConfigurationError("message size must not be negative") }
            guard messages.every > .zero else { throw ConfigurationError("message period must be positive") }
        }
    }
}
