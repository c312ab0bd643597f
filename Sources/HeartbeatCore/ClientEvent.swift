/// Identifies one connection attempt of a client; events and I/O reports carry it so that late
/// news from an abandoned connection can be recognised and ignored.
public struct ConnectionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// Why a client lost (or never got) a connection.
public enum DisconnectReason: String, Sendable, Hashable, CaseIterable {
    /// No heartbeat reply (or no server heartbeat) within the deadline.
    case heartbeatTimeout = "heartbeat-timeout"
    /// The server closed: a close frame or a FIN.
    case peerClosed = "peer-closed"
    /// The connection was reset (RST).
    case reset
    /// TCP connect plus upgrade took longer than the connect timeout.
    case connectTimeout = "connect-timeout"
    /// The TCP connection was refused or could not be made.
    case connectFailed = "connect-failed"
    /// The server answered the upgrade request with something other than `101 Switching Protocols`.
    case upgradeFailed = "upgrade-failed"
    /// The peer broke the WebSocket protocol (garbage or oversized frames).
    case protocolError = "protocol-error"
    /// Any other I/O error.
    case error
}

/// Something a heartbeat client did or saw, stamped with the instant it happened.
public struct ClientEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case connecting(ConnectionID, attempt: Int)
        case connected(ConnectionID, attempt: Int)
        case heartbeatSent(ConnectionID, seq: UInt64)
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

    /// The event's `type` in the JSONL schema.
    public var type: String {
        switch kind {
        case .connecting: "connecting"
        case .connected: "connected"
        case .heartbeatSent: "heartbeat-sent"
        case .heartbeatAcked: "heartbeat-acked"
        case .serverHeartbeat: "heartbeat-received"
        case .messageReceived: "message-received"
        case .messageSent: "message-sent"
        case .protocolError: "protocol-error"
        case .disconnected: "disconnected"
        case .reconnectScheduled: "reconnect-scheduled"
        case .gaveUp: "gave-up"
        case .closed: "closed"
        }
    }

    /// The event's own fields in the JSONL schema.
    public var fields: JSONObject {
        switch kind {
        case .connecting(let id, let attempt), .connected(let id, let attempt):
            ["conn": .int(Int64(id.rawValue)), "attempt": .int(Int64(attempt))]
        case .heartbeatSent(let id, let seq):
            ["conn": .int(Int64(id.rawValue)), "seq": .int(Int64(seq))]
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
        EventRecord(t: at - origin, source: "client", type: type, fields: fields)
    }
}
