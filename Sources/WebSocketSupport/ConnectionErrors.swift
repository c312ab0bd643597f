public import EventSchema
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `error` is the peer's host refusing the connection (ECONNREFUSED).
public func isConnectionRefused(_ error: any Error) -> Bool {
    if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
    if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first { return isConnectionRefused(first.error) }
    return false
}

/// Sorts an I/O or protocol error into the reason a connection was lost, with a readable detail.
public func classify(_ error: any Error) -> (reason: DisconnectReason, detail: String) {
    if let io = error as? IOError {
        switch io.errnoCode {
        case ECONNRESET: return (.reset, "connection reset by peer (RST)")
        case ECONNREFUSED: return (.connectFailed, "connection refused")
        case EPIPE: return (.reset, "broken pipe")
        case ETIMEDOUT: return (.error, "timed out (\(io))")
        default: return (.error, "\(io)")
        }
    }
    if let connect = error as? NIOConnectionError {
        if let first = connect.connectionErrors.first {
            return classify(first.error)
        }
        return (.connectFailed, "could not connect to \(connect.host):\(connect.port)")
    }
    if let channel = error as? ChannelError {
        switch channel {
        case .connectTimeout(let amount):
            return (.connectTimeout, "TCP connect timed out after \(amount.nanoseconds / 1_000_000)ms")
        default:
            return (.error, "\(channel)")
        }
    }
    if let ws = error as? NIOWebSocketError {
        switch ws {
        case .invalidFrameLength: return (.protocolError, "frame larger than the maximum frame size")
        case .fragmentedControlFrame: return (.protocolError, "fragmented control frame")
        case .multiByteControlFrameLength: return (.protocolError, "control frame longer than 125 bytes")
        }
    }
    if let violation = error as? WebSocketProtocolViolation {
        return (.protocolError, violation.detail)
    }
    if let aggregation = error as? NIOWebSocketFrameAggregator.Error {
        return (.protocolError, "invalid fragmented message: \(aggregation)")
    }
    if error is NIOHTTPClientUpgradeError {
        return (.upgradeFailed, "WebSocket upgrade failed: \(error)")
    }
    if error is HTTPParserError {
        return (.upgradeFailed, "the server did not answer with HTTP: \(error)")
    }
    if error is ByteToMessageDecoderError {
        return (.protocolError, "\(error)")
    }
    return (.error, "\(error)")
}
