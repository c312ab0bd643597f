public import HeartbeatCore
public import NIOCore
public import NIOWebSocket

// HeartbeatCore's frames on NIOWebSocket's: shared by the heartbeat client and server.

extension InboundFrame {
    /// The frame as the heartbeat logic sees it, or nil for opcodes it does not care about.
    public init?(_ frame: WebSocketFrame) {
        var data = frame.unmaskedData
        switch frame.opcode {
        case .text:
            self = .text(String(buffer: data))
        case .binary:
            self = .binary(count: data.readableBytes)
        case .ping:
            self = .ping(Array(buffer: data))
        case .pong:
            self = .pong(Array(buffer: data))
        case .connectionClose:
            let code = data.readInteger(as: UInt16.self)
            self = .close(code: code, reason: data.readString(length: data.readableBytes) ?? "")
        default:
            return nil
        }
    }
}

extension OutboundFrame {
    /// A WebSocket frame for this message; clients must pass a masking key, servers must not.
    public func webSocketFrame(allocator: ByteBufferAllocator, maskKey: WebSocketMaskingKey?) -> WebSocketFrame {
        switch self {
        case .text(let text):
            WebSocketFrame(fin: true, opcode: .text, maskKey: maskKey, data: allocator.buffer(string: text))
        case .binary(let bytes):
            WebSocketFrame(fin: true, opcode: .binary, maskKey: maskKey, data: allocator.buffer(bytes: bytes))
        case .ping(let bytes):
            WebSocketFrame(fin: true, opcode: .ping, maskKey: maskKey, data: allocator.buffer(bytes: bytes))
        case .pong(let bytes):
            WebSocketFrame(fin: true, opcode: .pong, maskKey: maskKey, data: allocator.buffer(bytes: bytes))
        }
    }

    public var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes), .ping(let bytes), .pong(let bytes): bytes.count
        }
    }
}
