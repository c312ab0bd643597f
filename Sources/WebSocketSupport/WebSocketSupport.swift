public import EventSchema
public import NIOCore
public import NIOPosix
public import NIOWebSocket
import NIOHTTP1
import NIOConcurrencyHelpers
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Instant {
    /// The instant of a NIO deadline (both count on the monotonic uptime clock).
    public init(_ deadline: NIODeadline) {
        self.init(nanoseconds: Int64(clamping: deadline.uptimeNanoseconds))
    }

    /// The current instant of an event loop: fake time on an `EmbeddedEventLoop`, uptime otherwise.
    public static func now(on loop: any EventLoop) -> Instant { Instant(loop.now) }

    /// The current instant on the process's monotonic clock.
    public static var now: Instant { Instant(NIODeadline.now()) }

    public var nioDeadline: NIODeadline { .uptimeNanoseconds(UInt64(max(nanoseconds, 0))) }
}

extension Duration {
    public var timeAmount: TimeAmount { .nanoseconds(nanoseconds) }
}

/// Milliseconds since the Unix epoch, for the timestamps heartbeats carry.
public func epochMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}


/// A frame that breaks RFC 6455 (reserved opcode, reserved bits without an extension).
public struct WebSocketProtocolViolation: Error, CustomStringConvertible {
    public var detail: String
    public init(detail: String) { self.detail = detail }
    public var description: String { detail }
}

extension WebSocketFrame {
    /// Why this frame must fail the connection, or nil when it is well-formed.
    public var protocolViolation: String? {
        switch opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong:
            break
        default:
            return "frame with reserved opcode \(opcode)"
        }
        if rsv1 || rsv2 || rsv3 { return "frame with reserved bits set but no extension negotiated" }
        return nil
    }

    /// A close frame with a status code and reason.
    public static func close(code: UInt16, reason: String, allocator: ByteBufferAllocator, maskKey: WebSocketMaskingKey?) -> WebSocketFrame {
        var data = allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        return WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey, data: data)
    }
}

/// Sorts an I/O or protocol error into the reason a connection was lost, with a readable detail.
/// Whether `error` is the peer's host refusing the connection (ECONNREFUSED).
public func isConnectionRefused(_ error: any Error) -> Bool {
    if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
    if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first { return isConnectionRefused(first.error) }
    return false
}

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

extension ChannelPipeline.SynchronousOperations {
    /// After an upgrade: reassembles fragmented messages (up to `maxMessageSize`), then `handler`.
    public func addWebSocketMessageHandlers(maxMessageSize: Int, handler: some ChannelHandler) throws {
        try addHandler(
            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 4096, maxAccumulatedFrameSize: maxMessageSize)
        )
        try addHandler(handler)
    }
}

/// Waits until `start` reports done or `limit` passes, whichever comes first, and never longer:
/// `start` receives a callback to call when the awaited thing happened. Returns whether it did.
public func finishesWithin(_ limit: Duration, _ start: (@escaping @Sendable () -> Void) -> Void) async -> Bool {
    let once = NIOLockedValueBox(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        @Sendable func finish(_ value: Bool) {
            let first = once.withLockedValue { done -> Bool in
                defer { done = true }
                return !done
            }
            if first { continuation.resume(returning: value) }
        }
        start { finish(true) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(max(limit, .zero).nanoseconds))) { finish(false) }
    }
}

extension ClientBootstrap {
    /// Connects straight to an IP address written as one (no resolver: thousands of connects at
    /// once would otherwise queue on getaddrinfo and Happy Eyeballs); a name is resolved as usual.
    public func connect(hostOrAddress host: String, port: Int) -> EventLoopFuture<any Channel> {
        if let address = try? SocketAddress(ipAddress: host, port: port) { return connect(to: address) }
        return connect(host: host, port: port)
    }
}
