public import EventSchema
/// When and how a client sends heartbeats and decides the link is dead.
public struct HeartbeatPolicy: Sendable, Hashable {
    public var dialect: HeartbeatDialect
    /// Time between heartbeats (or, when `anyMessageCountsAsAlive`, of inbound silence before one is sent).
    public var interval: Duration
    /// How long to wait for the reply before the link is declared dead.
    public var timeout: Duration
    /// Whether any inbound frame proves the link alive (and postpones the next heartbeat), as
    /// SignalR and the classic `heartCheck.reset().start()` do. When false only the reply counts.
    public var anyMessageCountsAsAlive: Bool
    /// After death is declared, how long a close frame may take before the socket is dropped.
    /// Reconnecting never waits for it. `nil` means half the timeout, at most one second.
    public var closeGrace: Duration?

    public init(
        dialect: HeartbeatDialect = .json,
        interval: Duration = .seconds(4),
        timeout: Duration = .seconds(2),
        anyMessageCountsAsAlive: Bool = false,
        closeGrace: Duration? = nil
    ) {
        self.dialect = dialect
        self.interval = interval
        self.timeout = timeout
        self.anyMessageCountsAsAlive = anyMessageCountsAsAlive
        self.closeGrace = closeGrace
    }

    public var effectiveCloseGrace: Duration {
        closeGrace ?? min(timeout / 2, .seconds(1))
    }

    /// How long a silent link can go undetected: the worst-case detection time after traffic stops.
    public var detectionBound: Duration {
        switch dialect {
        case .serverPush(let interval, let tolerance): interval.scaled(by: tolerance)
        default: interval + timeout
        }
    }

    /// Throws when the combination cannot work; the message says which value to change.
    public func validate() throws(ConfigurationError) {
        switch dialect {
        case .serverPush(let pushInterval, let tolerance):
            guard pushInterval > .zero else {
                throw ConfigurationError("server-push interval must be positive, got \(pushInterval.flatlineDescription)")
            }
            guard tolerance >= 1 else {
                throw ConfigurationError(
                    "server-push tolerance \(tolerance) is below 1: the client would declare the link dead before the next heartbeat is due; use at least 1 (e.g. 1.5)"
                )
            }
        case .text(let payload, _):
            guard !payload.isEmpty else { throw ConfigurationError("text heartbeat payload must not be empty") }
            fallthrough
        case .json, .ping:
            guard interval > .zero else {
                throw ConfigurationError("heartbeat interval must be positive, got \(interval.flatlineDescription)")
            }
            guard timeout > .zero else {
                throw ConfigurationError("heartbeat timeout must be positive, got \(timeout.flatlineDescription)")
            }
            guard timeout < interval else {
                throw ConfigurationError(
                    "heartbeat timeout \(timeout.flatlineDescription) is not shorter than the interval \(interval.flatlineDescription): the next heartbeat would go out before the last one could be judged; use a timeout below the interval"
                )
            }
        }
        if let closeGrace, closeGrace < .zero {
            throw ConfigurationError("close grace must not be negative")
        }
    }
}

/// How a client reconnects after losing its connection.
public struct ReconnectPolicy: Sendable, Hashable {
    public enum Backoff: Sendable, Hashable {
        /// The same delay before every attempt.
        case fixed(Duration)
        /// `initial × multiplier^(attempt-1)`, never above `cap` (before jitter).
        case exponential(initial: Duration, multiplier: Double, cap: Duration)
    }

    public var backoff: Backoff

    /// The fixed delay when none is given.
    public static let defaultDelay = Duration.seconds(3)
    /// Exponential backoff's settings when not given.
    public static let defaultBackoffInitial = Duration.milliseconds(100)
    public static let defaultBackoffMultiplier = 2.0
    public static let defaultBackoffCap = Duration.seconds(30)
    public static let defaultConnectTimeout = Duration.seconds(5)

    /// Each delay is spread uniformly over `delay × (1 ± jitter)`; 0 disables jitter.
    public var jitter: Double
    /// Attempts after a loss before giving up for good; nil retries forever.
    public var maxAttempts: Int?
    /// A connection that stayed up this long resets the attempt count when it is lost.
    /// Zero resets it as soon as a connection opens.
    public var stableAfter: Duration
    /// Limit on TCP connect plus the WebSocket upgrade.
    public var connectTimeout: Duration

    public init(
        backoff: Backoff = .fixed(defaultDelay),
        jitter: Double = 0,
        maxAttempts: Int? = nil,
        stableAfter: Duration = .zero,
        connectTimeout: Duration = defaultConnectTimeout
    ) {
        self.backoff = backoff
        self.jitter = jitter
        self.maxAttempts = maxAttempts
        self.stableAfter = stableAfter
        self.connectTimeout = connectTimeout
    }

    /// The delay before reconnect attempt `attempt` (1-based) before jitter.
    public func baseDelay(attempt: Int) -> Duration {
        switch backoff {
        case .fixed(let delay):
            return delay
        case .exponential(let initial, let multiplier, let cap):
            var delay = initial
            for _ in 1..<max(attempt, 1) {
                delay = delay.scaled(by: multiplier)
                if delay >= cap { return cap }
            }
            return min(delay, cap)
        }
    }

    /// The jittered delay for `attempt`, using `unitRandom` in [0, 1).
    public func delay(attempt: Int, unitRandom: Double) -> Duration {
        let base = baseDelay(attempt: attempt)
        guard jitter > 0 else { return base }
        let factor = 1 + jitter * (2 * unitRandom - 1)
        return max(base.scaled(by: factor), .zero)
    }

    /// The range every delay for `attempt` falls in.
    public func delayBounds(attempt: Int) -> ClosedRange<Duration> {
        let base = baseDelay(attempt: attempt)
        return max(base.scaled(by: 1 - jitter), .zero)...base.scaled(by: 1 + jitter)
    }

    public func validate() throws(ConfigurationError) {
        switch backoff {
        case .fixed(let delay):
            guard delay >= .zero else { throw ConfigurationError("reconnect delay must not be negative") }
        case .exponential(let initial, let multiplier, let cap):
            guard initial >= .zero else { throw ConfigurationError("reconnect initial delay must not be negative") }
            guard multiplier >= 1, multiplier.isFinite else {
                throw ConfigurationError("backoff multiplier must be at least 1, got \(multiplier)")
            }
            guard cap >= initial else {
                throw ConfigurationError(
                    "backoff cap \(cap.flatlineDescription) is below the initial delay \(initial.flatlineDescription)"
                )
            }
        }
        guard (0...1).contains(jitter) else {
            throw ConfigurationError("jitter must be a fraction between 0 and 1 (e.g. 0.5 for ±50%), got \(jitter)")
        }
        if let maxAttempts, maxAttempts < 0 {
            throw ConfigurationError("max attempts must be zero or more, got \(maxAttempts)")
        }
        guard stableAfter >= .zero else { throw ConfigurationError("stable-after must not be negative") }
        guard connectTimeout > .zero else { throw ConfigurationError("connect timeout must be positive") }
    }
}

