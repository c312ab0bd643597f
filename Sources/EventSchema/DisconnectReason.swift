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
