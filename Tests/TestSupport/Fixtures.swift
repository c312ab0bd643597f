public import EventSchema
public import HeartbeatCore
import NIOCore

extension Duration {
    public static func ms(_ value: Int64) -> Duration { .milliseconds(value) }
}

extension ClientEvent {
    /// The reason of a `disconnected` event.
    public var disconnectReason: DisconnectReason? {
        if case .disconnected(_, let reason, _) = kind { return reason }
        return nil
    }

    public var detail: String? {
        switch kind {
        case .disconnected(_, _, let detail), .protocolError(_, let detail): detail
        default: nil
        }
    }

    public var summary: String { record(origin: .zero).jsonLine }
}
