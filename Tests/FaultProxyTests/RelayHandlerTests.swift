@testable import FaultProxy
import FaultModel
import EventSchema
import HeartbeatCore
import NIOCore
import NIOEmbedded
import Testing

/// A proxied connection whose two legs are `EmbeddedChannel`s on one `EmbeddedEventLoop`:
/// time only moves when the test moves it.
final class EmbeddedRelay {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let server: EmbeddedChannel
    let connection: ProxiedConnection
    var events: [ProxyEvent] = []

    init() throws {
        client = EmbeddedChannel(loop: loop)
        server = EmbeddedChannel(loop: loop)
        connection = ProxiedConnection(id: 1, clientChannel: client, owner: nil, seed: 7)
        let clientHandler = RelaySideHandler(side: .client, connection: connection)
        try client.pipeline.syncOperations.addHandler(clientHandler)
        connection.client = clientHandler
        let serverHandler = connection.makeServerHandler()
        try server.pipeline.syncOperations.addHandler(serverHandler)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        connection.markDialing()
        connection.attachServer(server, handler: serverHandler)
        connection.eventSink = { [unowned self] in self.events.append($0) }
    }

    func fromClient(_ bytes: [UInt8]) throws { try client.writeInbound(ByteBuffer(bytes: bytes)) }
    func fromServer(_ bytes: [UInt8]) throws { try server.writeInbound(ByteBuffer(bytes: bytes)) }

    /// Everything the proxy wrote to the server (or client) so far, concatenated.
    func toServer() throws -> [UInt8] { try drain(server) }
    func toClient() throws -> [UInt8] { try drain(client) }

    private func drain(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return bytes
    }

    func advance(_ duration: Duration) { loop.advanceTime(by: duration.timeAmountForTests) }
}

extension Duration {
    var timeAmountForTests: TimeAmount { .nanoseconds(nanoseconds) }
}

@Suite("Relay handlers under injected time")
struct RelayHandlerTests {
    @Test func latencyDelaysEachChunkAndKeepsOrder() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.latency(latency: .milliseconds(100), jitter: .zero), name: "lag", direction: .upstream))
        try relay.fromClient([1, 2, 3])
        relay.advance(.milliseconds(40))
        try relay.fromClient([4])
        #expect(try relay.toServer().isEmpty)
        relay.advance(.milliseconds(59))
        #expect(try relay.toServer().isEmpty, "not a millisecond early")
        relay.advance(.milliseconds(1))
        #expect(try relay.toServer() == [1, 2, 3])
        relay.advance(.milliseconds(40))
        #expect(try relay.toServer() == [4])
        // The other direction is untouched.
        try relay.fromServer([9])
        #expect(try relay.toClient() == [9])
    }

    @Test func jitterNeverReorders() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.latency(latency: .milliseconds(50), jitter: .milliseconds(50)), name: "jitter", direction: .upstream))
        for byte in UInt8(0)..<100 {
            try relay.fromClient([byte])
            relay.advance(.milliseconds(1))
        }
        relay.advance(.milliseconds(200))
        #expect(try relay.toServer() == Array(0..<100))
    }

    @Test func removingLatencyFlushesWhatIsQueued() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.latency(latency: .seconds(10), jitter: .zero), name: "lag", direction: .upstream))
        try relay.fromClient([1, 2])
        relay.connection.uninstall("lag")
        #expect(try relay.toServer() == [1, 2])
    }

    @Test func timeoutDropsDataThenClosesBothLegs() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.timeout(.milliseconds(200)), name: "t", direction: .both))
        try relay.fromClient([1, 2, 3])
        try relay.fromServer([4])
        relay.advance(.milliseconds(199))
        #expect(try relay.toServer().isEmpty)
        #expect(try relay.toClient().isEmpty)
        #expect(relay.client.isActive && relay.server.isActive)
        relay.advance(.milliseconds(1))
        #expect(!relay.client.isActive)
        #expect(!relay.server.isActive)
        #expect(relay.events.filter { $0.type == .closedByProxy }.count == 2)
    }

    @Test func holdKeepsBytesAndDeliversThemOnRelease() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.hold(capBytes: 8), name: "hold", direction: .both))
        try relay.fromClient([1, 2, 3, 4, 5])
        try relay.fromClient([6, 7, 8, 9])
        try relay.fromServer([42])
        relay.advance(.seconds(60))
        #expect(try relay.toServer().isEmpty)
        #expect(relay.events.contains { $0.type == .holdFull && $0.fields["bytes"]?.intValue == 9 })
        #expect(!relay.connection.mayRead(from: .client), "at the cap the sender is paused, nothing is dropped")
        relay.connection.uninstall("hold")
        #expect(try relay.toServer() == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(try relay.toClient() == [42])
        #expect(relay.connection.mayRead(from: .client))
    }

    @Test func bandwidthPacesTheBytes() throws {
        let relay = try EmbeddedRelay()
        // 10 KB/s: 1000-byte chunks, one per 100 ms.
        relay.connection.install(Fault(.bandwidth(kilobytesPerSecond: 10), name: "slow", direction: .upstream))
        try relay.fromClient([UInt8](repeating: 1, count: 3000))
        #expect(try relay.toServer().isEmpty)
        relay.advance(.milliseconds(100))
        #expect(try relay.toServer().count == 1000)
        relay.advance(.milliseconds(199))
        #expect(try relay.toServer().count == 1000)
        relay.advance(.milliseconds(1))
        #expect(try relay.toServer().count == 1000)
    }

    @Test func blackholeWithholdsTheFINUntilHealed() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.blackhole, name: "cable", direction: .both))
        try relay.fromClient([1, 2, 3])
        relay.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try relay.toServer().isEmpty)
        #expect(relay.events.contains { $0.type == .connClosed && $0.fields["forwarded"] == false })
        relay.loop.run()
        #expect(relay.server.isActive, "the FIN is withheld while the cable is out")
        relay.connection.uninstall("cable")
        relay.loop.run()
        #expect(try relay.toServer() == [1, 2, 3], "nothing is lost: the held bytes arrive, then the FIN")
        // The withheld FIN is forwarded on heal: the server leg's output is shut (an EmbeddedChannel
        // closes outright on a half-close).
        #expect(!relay.server.isActive, "the FIN must reach the server once the cable is back")
    }
}

/// Builds WebSocket frames for the drop-frames tests.
func wsFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = nil) -> [UInt8] {
    var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    if payload.count < 126 {
        bytes.append(maskBit | UInt8(payload.count))
    } else if payload.count < 65536 {
        bytes.append(maskBit | 126)
        bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        bytes.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((payload.count >> shift) & 0xFF)) }
    }
    if let mask {
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        bytes += payload
    }
    return bytes
}

@Suite("drop-frames follows the WebSocket stream")
struct DropFramesTests {
    let response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8)
    let request = Array("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\n".utf8)

    @Test(arguments: [1, 3, 1000])
    func dropsOnlyPongsFromTheServer(chunkSize: Int) throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.dropFrames(FrameMatcher(opcodes: ["pong"])), name: "no-pong", direction: .downstream))
        let text = wsFrame(0x1, Array("hello".utf8))
        let pong = wsFrame(0xA, Array("flatline-1".utf8))
        let big = wsFrame(0x2, [UInt8](repeating: 5, count: 70_000))
        let stream = response + text + pong + big + pong + text
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            try relay.fromServer(Array(stream[start..<min(start + chunkSize, stream.count)]))
        }
        #expect(try relay.toClient() == response + text + big + text)
        #expect(relay.events.filter { $0.type == .frameDropped }.count == 2)
    }

    @Test(arguments: [1, 7, 4096])
    func dropsMaskedFragmentedTextByPattern(chunkSize: Int) throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.dropFrames(FrameMatcher(textPattern: "heart_beat")), name: "no-hb", direction: .upstream))
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        // "heart_beat" split over two fragments, with a ping interleaved between them.
        let heartbeat = wsFrame(0x1, Array(#"{"ModeCode":"heart_"#.utf8), fin: false, mask: mask)
            + wsFrame(0x9, Array("p".utf8), mask: mask)
            + wsFrame(0x0, Array(#"beat","msg":1}"#.utf8), mask: [9, 8, 7, 6])
        let message = wsFrame(0x1, Array(#"{"ModeCode":"message","msg":"hi"}"#.utf8), mask: mask)
        let stream = request + message + heartbeat + message
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            try relay.fromClient(Array(stream[start..<min(start + chunkSize, stream.count)]))
        }
        let expected = request + message + wsFrame(0x9, Array("p".utf8), mask: mask) + message
        #expect(try relay.toServer() == expected)
    }

    @Test func rawTCPIsLeftAlone() throws {
        let relay = try EmbeddedRelay()
        relay.connection.install(Fault(.dropFrames(FrameMatcher(opcodes: ["ping", "pong", "text", "binary", "close"])), name: "all", direction: .both))
        let bytes: [UInt8] = [0x89, 0x00, 0x8A, 0x00, 1, 2, 3]
        try relay.fromClient(bytes)
        #expect(try relay.toServer() == bytes, "not HTTP, so not WebSocket: nothing is dropped")
    }
}
