public import EventSchema

/// How the heartbeat server answers and what it does on its own.
public struct HeartbeatServerConfiguration: Sendable, Hashable {
    public var host: String
    /// 0 picks a free port; ``HeartbeatServer/start()`` returns the real one.
    public var port: Int
    /// The dialect decides what the server does on its own (push heartbeats for `server-push`) and
    /// which text counts as a heartbeat. It answers every dialect's heartbeats regardless: JSON
    /// heartbeats are echoed, the text payload gets the text reply, pings get pongs.
    public var dialect: HeartbeatDialect
    /// Send a ping of its own this often (nil: never).
    public var pingInterval: Duration?
    /// Close connections silent for this long (nil: never).
    public var reapAfter: Duration?
    /// Echo application messages back.
    public var echoMessages: Bool
    public var maxFrameSize: Int

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        dialect: HeartbeatDialect = .json,
        pingInterval: Duration? = nil,
        reapAfter: Duration? = nil,
        echoMessages: Bool = true,
        maxFrameSize: Int = HeartbeatClientConfiguration.defaultMaxFrameSize
    ) {
        self.host = host
        self.port = port
        self.dialect = dialect
        self.pingInterval = pingInterval
        self.reapAfter = reapAfter
        self.echoMessages = echoMessages
        self.maxFrameSize = maxFrameSize
    }

    public func validate() throws(ConfigurationError) {
        guard (0...65535).contains(port) else { throw ConfigurationError("port \(port) is outside 0–65535") }
        if case .serverPush(let interval, _) = dialect, interval <= .zero {
            throw ConfigurationError("server-push interval must be positive")
        }
        if let pingInterval, pingInterval <= .zero { throw ConfigurationError("ping interval must be positive") }
        if let reapAfter, reapAfter <= .zero { throw ConfigurationError("reap-after must be positive") }
        guard maxFrameSize >= 125, maxFrameSize <= Int(UInt32.max) else {
            throw ConfigurationError("max frame size must be between 125 bytes and 4 GiB")
        }
    }

    /// The reply to a text heartbeat (`ok` by default in the text dialect).
    public var textHeartbeat: (payload: String, reply: String?)? {
        if case .text(let payload, let reply) = dialect { return (payload, reply) }
        return nil
    }
}
