public import NIOCore

/// A WebSocket frame header as seen in a proxied byte stream.
public struct FrameInfo: Sendable, Hashable {
    public init(fin: Bool, opcode: UInt8, maskKey: (UInt8, UInt8, UInt8, UInt8)?, payloadLength: UInt64) {
        self.fin = fin
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
    }

    public var fin: Bool
    public var opcode: UInt8
    public var maskKey: (UInt8, UInt8, UInt8, UInt8)?
    public var payloadLength: UInt64

    public var isControl: Bool { opcode >= 0x8 }

    public var opcodeName: String {
        switch opcode {
        case 0x0: "continuation"
        case 0x1: "text"
        case 0x2: "binary"
        case 0x8: "close"
        case 0x9: "ping"
        case 0xA: "pong"
        default: "reserved-\(opcode)"
        }
    }

    public static func == (lhs: FrameInfo, rhs: FrameInfo) -> Bool {
        lhs.fin == rhs.fin && lhs.opcode == rhs.opcode && lhs.payloadLength == rhs.payloadLength
            && lhs.maskKey.map { [$0.0, $0.1, $0.2, $0.3] } == rhs.maskKey.map { [$0.0, $0.1, $0.2, $0.3] }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fin)
        hasher.combine(opcode)
        hasher.combine(payloadLength)
    }

    /// Unmasks payload bytes that start at `offset` within the payload.
    public func unmask(_ bytes: inout [UInt8], offset: UInt64) {
        guard let key = maskKey else { return }
        let k = [key.0, key.1, key.2, key.3]
        for i in bytes.indices { bytes[i] ^= k[Int((offset + UInt64(i)) % 4)] }
    }
}

/// Follows one direction of a proxied TCP stream: an HTTP/1.1 head, then (after an upgrade)
/// WebSocket frames, cutting the bytes into segments without copying payloads. Anything that is
/// not HTTP turns the tracker into a pass-through at once, so raw TCP costs nothing.
public struct WebSocketStreamTracker: Sendable {
    public enum Mode: Equatable, Sendable {
        /// Collecting an HTTP request or response head.
        case httpHead
        /// Following WebSocket frames.
        case frames
        /// Not (or no longer) WebSocket: bytes are not interpreted.
        case opaque
    }

    public enum Segment {
        /// Bytes of an HTTP head (or HTTP body) — not frames.
        case http(ByteBuffer)
        /// A complete frame header (all of its bytes).
        case frameHeader(FrameInfo, ByteBuffer)
        /// Payload bytes of the current frame starting at `offset`; `last` when the frame ends here.
        case payload(FrameInfo, ByteBuffer, offset: UInt64, last: Bool)
        /// Bytes not interpreted.
        case opaque(ByteBuffer)
    }

    /// What the head of this direction turned out to be.
    public enum HeadOutcome: Equatable, Sendable {
        /// A request asking for `Upgrade: websocket` (client → server).
        case upgradeRequest
        /// `101 Switching Protocols` (server → client).
        case switchingProtocols
        /// Any other HTTP head; carries the status code of a response, 0 for a request.
        case otherHTTP(status: Int)
    }

    public static let maxHeadBytes = 16 * 1024

    public private(set) var mode: Mode = .httpHead

    public init() {}
    private var head: [UInt8] = []
    private var headerBytes: [UInt8] = []
    private var current: FrameInfo?
    private var payloadOffset: UInt64 = 0

    /// Turns the tracker into a pass-through (e.g. the upgrade was refused).
    public mutating func giveUp() { mode = .opaque }

    /// Switches to frames (the other direction saw the upgrade complete).
    public mutating func startFrames() {
        if mode == .httpHead && head.isEmpty { mode = .frames }
    }

    /// Splits `buffer` into segments in order. `onHead` reports the outcome of an HTTP head.
    public mutating func split(_ buffer: ByteBuffer, onHead: (HeadOutcome) -> Void, _ body: (Segment) -> Void) {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            switch mode {
            case .opaque:
                body(.opaque(buffer))
                return
            case .httpHead:
                consumeHead(&buffer, onHead: onHead, body)
            case .frames:
                consumeFrames(&buffer, body)
            }
        }
    }

    private mutating func consumeHead(_ buffer: inout ByteBuffer, onHead: (HeadOutcome) -> Void, _ body: (Segment) -> Void) {
        if head.isEmpty, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), !(65...90).contains(first) {
            // HTTP methods and "HTTP/" start with an upper-case letter; anything else is raw TCP.
            mode = .opaque
            return
        }
        let view = buffer.readableBytesView
        var consumed = 0
        var ended = false
        for byte in view {
            head.append(byte)
            consumed += 1
            if head.count >= 4, head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                ended = true
                break
            }
        }
        let slice = buffer.readSlice(length: consumed)!
        body(.http(slice))
        if ended {
            let outcome = Self.outcome(of: head)
            head.removeAll()
            onHead(outcome)
            switch outcome {
            case .upgradeRequest, .switchingProtocols: mode = .frames
            case .otherHTTP: mode = .opaque
            }
        } else if head.count > Self.maxHeadBytes {
            mode = .opaque
        }
    }

    static func outcome(of head: [UInt8]) -> HeadOutcome {
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        guard let first = lines.first else { return .otherHTTP(status: 0) }
        if first.hasPrefix("HTTP/") {
            let parts = first.split(separator: " ")
            let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return status == 101 ? .switchingProtocols : .otherHTTP(status: status)
        }
        let upgrade = lines.dropFirst().contains { line in
            let lower = line.lowercased()
            return lower.hasPrefix("upgrade:") && lower.contains("websocket")
        }
        return upgrade ? .upgradeRequest : .otherHTTP(status: 0)
    }

    private mutating func consumeFrames(_ buffer: inout ByteBuffer, _ body: (Segment) -> Void) {
        if let frame = current {
            let remaining = frame.payloadLength - payloadOffset
            let take = Int(min(UInt64(buffer.readableBytes), remaining))
            let slice = buffer.readSlice(length: take)!
            let offset = payloadOffset
            payloadOffset += UInt64(take)
            let last = payloadOffset == frame.payloadLength
            if last { current = nil }
            body(.payload(frame, slice, offset: offset, last: last))
            return
        }
        // Accumulate the header: 2 bytes, then the extended length and the mask key.
        while buffer.readableBytes > 0 {
            headerBytes.append(buffer.readInteger(as: UInt8.self)!)
            guard let needed = Self.headerLength(headerBytes), headerBytes.count == needed else { continue }
            let frame = Self.parseHeader(headerBytes)
            var headerBuffer = ByteBufferAllocator().buffer(capacity: headerBytes.count)
            headerBuffer.writeBytes(headerBytes)
            headerBytes.removeAll(keepingCapacity: true)
            // RFC 6455 §5.2: a 64-bit length has its most significant bit 0. One that does not is no
            // WebSocket frame: the rest of the stream passes through uninterpreted (the peer fails it).
            guard frame.payloadLength <= UInt64(Int64.max) else {
                mode = .opaque
                body(.opaque(headerBuffer))
                return
            }
            body(.frameHeader(frame, headerBuffer))
            if frame.payloadLength == 0 {
                body(.payload(frame, ByteBuffer(), offset: 0, last: true))
            } else {
                current = frame
                payloadOffset = 0
            }
            return
        }
    }

    /// The full header length once enough bytes are known.
    static func headerLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        let masked = bytes[1] & 0x80 != 0
        let length7 = bytes[1] & 0x7F
        let extended = length7 == 126 ? 2 : (length7 == 127 ? 8 : 0)
        return 2 + extended + (masked ? 4 : 0)
    }

    static func parseHeader(_ bytes: [UInt8]) -> FrameInfo {
        let fin = bytes[0] & 0x80 != 0
        let opcode = bytes[0] & 0x0F
        let masked = bytes[1] & 0x80 != 0
        let length7 = bytes[1] & 0x7F
        var index = 2
        var length = UInt64(length7)
        if length7 == 126 {
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            index = 4
        } else if length7 == 127 {
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(bytes[i]) }
            index = 10
        }
        let key = masked ? (bytes[index], bytes[index + 1], bytes[index + 2], bytes[index + 3]) : nil
        return FrameInfo(fin: fin, opcode: opcode, maskKey: key, payloadLength: length)
    }
}
