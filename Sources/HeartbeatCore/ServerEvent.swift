public import EventSchema

/// Something the heartbeat server did or saw.
public struct ServerEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case listening(host: String, port: Int)
        case acceptFailed(detail: String)
        case clientConnected(conn: UInt64, remote: String)
        case heartbeatReceived(conn: UInt64)
        case heartbeatPushed(conn: UInt64)
        case pingSent(conn: UInt64)
        case messageReceived(conn: UInt64, bytes: Int)
        case protocolError(conn: UInt64, detail: String)
        case reaped(conn: UInt64, silentFor: Duration)
        case clientDisconnected(conn: UInt64, detail: String)
        case muted(Bool)
        case frozen(Bool)
        case killed
        case stopped
    }

    public var at: Instant
    public var kind: Kind

    public init(at: Instant, kind: Kind) {
        self.at = at
        self.kind = kind
    }

    /// The event's type in the schema's catalog.
    public var type: ServerEventType {
        switch kind {
        case .listening: .listening
        case .acceptFailed: .acceptFailed
        case .clientConnected: .clientConnected
        case .heartbeatReceived: .heartbeatReceived
        case .heartbeatPushed: .heartbeatPushed
        case .pingSent: .pingSent
        case .messageReceived: .messageReceived
        case .protocolError: .protocolError
        case .reaped: .reaped
        case .clientDisconnected: .clientDisconnected
        case .muted: .muted
        case .frozen(let on): on ? .frozen : .resumed
        case .killed: .killed
        case .stopped: .stopped
        }
    }

    public var fields: JSONObject {
        switch kind {
        case .listening(let host, let port): ["host": .string(host), "port": .int(Int64(port))]
        case .acceptFailed(let detail): ["detail": .string(detail)]
        case .clientConnected(let conn, let remote): ["conn": .int(Int64(conn)), "remote": .string(remote)]
        case .heartbeatReceived(let conn), .heartbeatPushed(let conn), .pingSent(let conn): ["conn": .int(Int64(conn))]
        case .messageReceived(let conn, let bytes): ["conn": .int(Int64(conn)), "bytes": .int(Int64(bytes))]
        case .protocolError(let conn, let detail): ["conn": .int(Int64(conn)), "detail": .string(detail)]
        case .reaped(let conn, let silent): ["conn": .int(Int64(conn)), "silent_ms": .double(silent.milliseconds)]
        case .clientDisconnected(let conn, let detail): ["conn": .int(Int64(conn)), "detail": .string(detail)]
        case .muted(let on): ["on": .bool(on)]
        case .frozen, .killed, .stopped: [:]
        }
    }

    public func record(origin: Instant) -> EventRecord {
        EventRecord(t: at - origin, type, fields: fields)
    }
}
