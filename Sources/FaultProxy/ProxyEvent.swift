public import EventSchema
import FaultModel

/// Something the proxy did or saw: connections, faults, WebSocket frames, bytes.
public struct ProxyEvent: Sendable, Hashable {
    public var at: Instant
    public var type: ProxyEventType
    public var fields: JSONObject

    public init(at: Instant, type: ProxyEventType, fields: JSONObject = [:]) {
        self.at = at
        self.type = type
        self.fields = fields
    }

    public func record(origin: Instant) -> EventRecord {
        EventRecord(t: at - origin, type, fields: fields)
    }

    /// The `conn` field, when the event is about a connection.
    public var connection: UInt64? { fields["conn"]?.intValue.map { UInt64($0) } }
}

/// Which peer a leg of a proxied connection faces.
public enum Side: String, Sendable, Hashable {
    case client, server

    var opposite: Side { self == .client ? .server : .client }
    /// The flow whose bytes this side sends.
    var outgoingFlow: Flow { self == .client ? .upstream : .downstream }
}

/// How a TCP connection ended on one side.
public enum CloseHow: String, Sendable, Hashable {
    case fin, rst
}
