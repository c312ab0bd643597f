public import NIOCore
public import NIOWebSocket

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

extension ChannelPipeline.SynchronousOperations {
    /// After an upgrade: reassembles fragmented messages (up to `maxMessageSize`), then `handler`.
    public func addWebSocketMessageHandlers(maxMessageSize: Int, handler: some ChannelHandler) throws {
        try addHandler(
            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 4096, maxAccumulatedFrameSize: maxMessageSize)
        )
        try addHandler(handler)
    }
}
