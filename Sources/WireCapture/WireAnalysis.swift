public import EventSchema
import NIOCore
import WebSocketSupport
import NetworkSupport

/// What a capture shows of one event on the wire (a SYN, FIN, RST, WebSocket frame, retransmission).
public struct WireEvent: Sendable, Hashable {
    public var timestampMicros: Int64
    public var kind: WireEventType
    public var fields: JSONObject
    /// The packet's ports (sender's, receiver's): which connection and listener it belongs to.
    public var sourcePort: Int = 0
    public var destinationPort: Int = 0
}

/// Follows TCP connections in captured packets: handshakes, bytes, FIN/RST, retransmissions and,
/// for WebSocket streams, the frames. Names endpoints with `roles` (client, proxy, server) when given.
/// Not thread-safe: feed it from one thread, or under a lock.
public final class WireAnalyzer {
    public struct Roles: Sendable {
        /// The proxy's listeners (one per external client).
        public var proxyPorts: Set<Int>
        public var serverPort: Int
        public init(proxyPort: Int, serverPort: Int) {
            self.init(proxyPorts: [proxyPort], serverPort: serverPort)
        }

        public init(proxyPorts: Set<Int>, serverPort: Int) {
            self.proxyPorts = proxyPorts
            self.serverPort = serverPort
        }

        func name(from source: Endpoint, to destination: Endpoint) -> (String, String) {
            if proxyPorts.contains(Int(destination.port)) { return ("client", "proxy") }
            if proxyPorts.contains(Int(source.port)) { return ("proxy", "client") }
            if destination.port == serverPort { return ("proxy", "server") }
            if source.port == serverPort { return ("server", "proxy") }
            return (source.description, destination.description)
        }
    }

    /// One direction of a connection.
    struct Flow {
        var bytes = 0
        var packets = 0
        var nextSequence: UInt32?
        var retransmissions = 0
        var truncated = 0
        var tracker = WebSocketStreamTracker()
        var lost = false
        var frames: [String: Int] = [:]
    }

    public struct ConnectionKey: Hashable, Sendable {
        var a: Endpoint
        var b: Endpoint
        init(_ x: Endpoint, _ y: Endpoint) {
            if (x.address, x.port) < (y.address, y.port) { (a, b) = (x, y) } else { (a, b) = (y, x) }
        }
    }

    /// Per-connection summary (for `flatline capture inspect`).
    public struct Connection: Sendable {
        public var initiator: Endpoint
        public var responder: Endpoint
        public var firstMicros: Int64
        public var lastMicros: Int64
        public var syn = false, synAck = false, handshakeAck = false
        public var ended: [String] = []
        var up = Flow()
        var down = Flow()

        public var bytesUp: Int { up.bytes }
        public var bytesDown: Int { down.bytes }
        public var framesUp: [String: Int] { up.frames }
        public var framesDown: [String: Int] { down.frames }
        public var retransmissions: Int { up.retransmissions + down.retransmissions }
        public var truncatedSegments: Int { up.truncated + down.truncated }
        public var packets: Int { up.packets + down.packets }
    }

    public let linkType: Int32
    public let roles: Roles?
    public private(set) var connections: [ConnectionKey: Connection] = [:]
    public private(set) var order: [ConnectionKey] = []
    public private(set) var skipped: [SkipReason: Int] = [:]
    public private(set) var firstMicros: Int64?

    public init(linkType: Int32, roles: Roles? = nil) {
        self.linkType = linkType
        self.roles = roles
    }

    /// Feeds one packet; returns the wire events it makes.
    @discardableResult
    public func feed(_ packet: CapturedPacket) -> [WireEvent] {
        let segment: TCPSegment
        switch PacketDecoder.decode(linkType: linkType, bytes: packet.bytes, timestampMicros: packet.timestampMicros) {
        case .success(let decoded): segment = decoded
        case .failure(let reason):
            skipped[reason, default: 0] += 1
            return []
        }
        if firstMicros == nil { firstMicros = packet.timestampMicros }
        let key = ConnectionKey(segment.source, segment.destination)
        if connections[key] == nil {
            let initiatorIsSource = segment.flags.contains(.syn) && !segment.flags.contains(.ack) || !segment.flags.contains(.syn)
            connections[key] = Connection(
                initiator: initiatorIsSource ? segment.source : segment.destination,
                responder: initiatorIsSource ? segment.destination : segment.source,
                firstMicros: packet.timestampMicros, lastMicros: packet.timestampMicros
            )
            order.append(key)
        }
        var connection = connections[key]!
        defer { connections[key] = connection }
        connection.lastMicros = packet.timestampMicros
        let upstream = segment.source == connection.initiator
        let (from, to) = roles?.name(from: segment.source, to: segment.destination) ?? (segment.source.description, segment.destination.description)
        var events: [WireEvent] = []
        func event(_ type: WireEventType, _ extra: JSONObject = [:]) {
            var fields: JSONObject = ["from": .string(from), "to": .string(to), "port": .int(Int64(upstream ? segment.source.port : segment.destination.port))]
            for (k, v) in extra { fields[k] = v }
            events.append(WireEvent(
                timestampMicros: packet.timestampMicros, kind: type, fields: fields,
                sourcePort: segment.source.port, destinationPort: segment.destination.port
            ))
        }
        var flow = upstream ? connection.up : connection.down
        flow.packets += 1
        if segment.flags.contains(.syn) {
            if segment.flags.contains(.ack) { connection.synAck = true } else {
                connection.syn = true
                event(.syn)
            }
            flow.nextSequence = segment.sequence &+ 1
        } else if connection.synAck, !connection.handshakeAck, upstream, segment.flags.contains(.ack) {
            connection.handshakeAck = true
        }
        if segment.payloadLength > 0 {
            if let expected = flow.nextSequence, Self.before(segment.sequence, expected) {
                flow.retransmissions += 1
                event(.retransmission, ["bytes": .int(Int64(segment.payloadLength))])
            } else {
                if let expected = flow.nextSequence, segment.sequence != expected { flow.lost = true }  // a gap: missed packets
                flow.bytes += segment.payloadLength
                flow.nextSequence = segment.sequence &+ UInt32(segment.payloadLength)
                if segment.isTruncated {
                    flow.truncated += 1
                    flow.lost = true
                }
                if !flow.lost, flow.tracker.mode != .opaque {
                    var frames: [FrameInfo] = []
                    flow.tracker.split(ByteBuffer(bytes: segment.payload), onHead: { _ in }) { piece in
                        if case .frameHeader(let frame, _) = piece { frames.append(frame) }
                    }
                    for frame in frames {
                        flow.frames[frame.opcodeName, default: 0] += 1
                        event(.frame, ["opcode": .string(frame.opcodeName), "length": .int(Int64(frame.payloadLength))])
                    }
                }
            }
        }
        if segment.flags.contains(.fin) {
            connection.ended.append("FIN from \(from) at +\(Self.ms(packet.timestampMicros - connection.firstMicros))")
            event(.fin)
            flow.nextSequence = (flow.nextSequence ?? segment.sequence) &+ 1
        }
        if segment.flags.contains(.rst) {
            connection.ended.append("RST from \(from) at +\(Self.ms(packet.timestampMicros - connection.firstMicros))")
            event(.rst)
        }
        if upstream { connection.up = flow } else { connection.down = flow }
        return events
    }

    static func before(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }

    static func ms(_ micros: Int64) -> String { String(Double(micros) / 1000) + "ms" }

    /// The per-connection summary, readable in a terminal.
    public func summaryLines() -> [String] {
        var lines: [String] = []
        for (index, key) in order.enumerated() {
            guard let c = connections[key] else { continue }
            let start = Self.ms(c.firstMicros - (firstMicros ?? c.firstMicros))
            let handshake = c.syn ? (c.synAck ? (c.handshakeAck ? "SYN, SYN-ACK, ACK" : "SYN, SYN-ACK") : "SYN only") : "not captured"
            lines.append("connection \(index + 1): \(c.initiator) → \(c.responder)  (from +\(start), \(c.packets) packets)")
            lines.append("  handshake: \(handshake)")
            lines.append("  bytes: \(c.bytesUp) →, \(c.bytesDown) ←")
            if !c.framesUp.isEmpty || !c.framesDown.isEmpty {
                func list(_ frames: [String: Int]) -> String { frames.isEmpty ? "none" : frames.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") }
                lines.append("  WebSocket frames →: \(list(c.framesUp))")
                lines.append("  WebSocket frames ←: \(list(c.framesDown))")
            }
            if c.retransmissions > 0 { lines.append("  retransmissions: \(c.retransmissions)") }
            if c.truncatedSegments > 0 { lines.append("  segments cut by the snap length: \(c.truncatedSegments) (frames after them not decoded)") }
            lines.append("  ended: \(c.ended.isEmpty ? "never (no FIN or RST captured)" : c.ended.joined(separator: "; "))")
        }
        if order.isEmpty { lines.append("no TCP connections in the capture") }
        let skippedTotal = skipped.values.reduce(0, +)
        if skippedTotal > 0 {
            lines.append("skipped packets: " + skipped.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", "))
        }
        return lines
    }

    public var summaryJSON: JSONValue {
        var connectionsJSON: [JSONValue] = []
        for key in order {
            guard let c = connections[key] else { continue }
            connectionsJSON.append(.object([
                "initiator": .string(c.initiator.description), "responder": .string(c.responder.description),
                "start_ms": .double(Double(c.firstMicros - (firstMicros ?? c.firstMicros)) / 1000),
                "end_ms": .double(Double(c.lastMicros - (firstMicros ?? c.firstMicros)) / 1000),
                "handshake": .object(["syn": .bool(c.syn), "syn_ack": .bool(c.synAck), "ack": .bool(c.handshakeAck)]),
                "bytes_up": .int(Int64(c.bytesUp)), "bytes_down": .int(Int64(c.bytesDown)),
                "frames_up": .object(JSONObject(c.framesUp)), "frames_down": .object(JSONObject(c.framesDown)),
                "retransmissions": .int(Int64(c.retransmissions)), "truncated_segments": .int(Int64(c.truncatedSegments)),
                "ended": .array(c.ended.map { .string($0) }), "packets": .int(Int64(c.packets)),
            ]))
        }
        var skippedJSON = JSONObject()
        for (reason, count) in skipped { skippedJSON[reason.rawValue] = .int(Int64(count)) }
        return .object(["connections": .array(connectionsJSON), "skipped": .object(skippedJSON)])
    }
}

extension JSONObject {
    init(_ counts: [String: Int]) {
        self.init()
        for (key, value) in counts.sorted(by: { $0.key < $1.key }) { self[key] = .int(Int64(value)) }
    }
}
