public import EventSchema
/// Identifies one connection attempt of a client; events and I/O reports carry it so that late
/// news from an abandoned connection can be recognised and ignored.
public struct ConnectionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// Something a heartbeat client did or saw, stamped with the instant it happened.
public struct ClientEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case connecting(ConnectionID, attempt: Int)
        case connected(ConnectionID, attempt: Int)
        /// `late`: how long after its due instant the heartbeat timer fired.
        case heartbeatSent(ConnectionID, seq: UInt64, late: Duration = .zero)
        case heartbeatAcked(ConnectionID, seq: UInt64, rtt: Duration)
        case serverHeartbeat(ConnectionID)
        case messageReceived(ConnectionID, bytes: Int)
        case messageSent(ConnectionID, bytes: Int)
        case protocolError(ConnectionID, detail: String)
        case disconnected(ConnectionID, reason: DisconnectReason, detail: String)
        case reconnectScheduled(attempt: Int, delay: Duration)
        case gaveUp(attempts: Int)
        case closed
    }

    public var at: Instant
    public var kind: Kind

    public init(at: Instant, kind: Kind) {
        self.at = at
        self.kind = kind
    }

    /// The event's type in the schema's catalog.
    public var type: ClientEventType {
        switch kind {
        case .connecting: .connecting
        case .connected: .connected
        case .heartbeatSent: .heartbeatSent
        case .heartbeatAcked: .heartbeatAcked
        case .serverHeartbeat: .heartbeatReceived
        case .messageReceived: .messageReceived
        case .messageSent: .messageSent
        case .protocolError: .protocolError
        case .disconnected: .disconnected
        case .reconnectScheduled: .reconnectScheduled
        case .gaveUp: .gaveUp
        case .closed: .closed
        }
    }

    /// The event's own fields in the JSONL schema.
    public var fields: JSONObject {
        switch kind {
        case .connecting(let id, let attempt), .connected(let id, let attempt):
            ["conn": .int(Int64(id.rawValue)), "attempt": .int(Int64(attempt))]
        case .heartbeatSent(let id, let seq, let late):
            ["conn": .int(Int64(id.rawValue)), "seq": .int(Int64(seq)), "late_ms": .double((late.milliseconds * 1000).rounded() / 1000)]
        case .heartbeatAcked(let id, let seq, let rtt):
            ["conn": .int(Int64(id.rawValue)), "seq": .int(Int64(seq)), "rtt_ms": .double((rtt.milliseconds * 1000).rounded() / 1000)]
        case .serverHeartbeat(let id):
            ["conn": .int(Int64(id.rawValue))]
        case .messageReceived(let id, let bytes), .messageSent(let id, let bytes):
            ["conn": .int(Int64(id.rawValue)), "bytes": .int(Int64(bytes))]
        case .protocolError(let id, let detail):
            ["conn": .int(Int64(id.rawValue)), "detail": .string(detail)]
        case .disconnected(let id, let reason, let detail):
            ["conn": .int(Int64(id.rawValue)), "reason": .string(reason.rawValue), "detail": .string(detail)]
        case .reconnectScheduled(let attempt, let delay):
            ["attempt": .int(Int64(attempt)), "delay_ms": .double(delay.milliseconds)]
        case .gaveUp(let attempts):
            ["attempts": .int(Int64(attempts))]
        case .closed:
            ["by": "user"]
        }
    }

    public func record(origin: Instant) -> EventRecord {
        EventRecord(t: at - origin, type, fields: fields)
    }
}
