import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOCore
import NIOPosix
import TestSupport
import Testing

/// A client plus a waiter that records its events.
struct ClientUnderTest {
    let client: HeartbeatClient
    let events: EventWaiter<ClientEvent>

    init(port: Int, heartbeat: HeartbeatPolicy, reconnect: ReconnectPolicy = ReconnectPolicy(backoff: .fixed(.ms(100)), connectTimeout: .ms(1000)), maxFrameSize: Int = 1 << 20, messages: MessageSchedule? = nil) throws {
        let events = EventWaiter<ClientEvent>(describe: { $0.summary })
        self.events = events
        client = try HeartbeatClient(
            configuration: HeartbeatClientConfiguration(
                url: WebSocketURL(host: "127.0.0.1", port: port, path: "/ws"),
                heartbeat: heartbeat,
                reconnect: reconnect,
                maxFrameSize: maxFrameSize,
                messages: messages,
                randomSeed: 1
            ),
            onEvent: { events.record($0) }
        )
        client.start()
    }

    @discardableResult
    func wait(_ type: ClientEventType, from: Int = 0, timeout: Duration = .seconds(10), where extra: @escaping @Sendable (ClientEvent) -> Bool = { _ in true }) async throws -> ClientEvent {
        try await events.wait(for: "client \(type.rawValue)", from: from, timeout: timeout) { $0.type == type && extra($0) }
    }

    func close() async throws {
        try await client.close().get()
    }
}

func startServer(_ configuration: HeartbeatServerConfiguration = HeartbeatServerConfiguration()) async throws -> (HeartbeatServer, Int, EventWaiter<ServerEvent>) {
    let events = EventWaiter<ServerEvent>(describe: { $0.record(origin: .zero).jsonLine })
    let server = try HeartbeatServer(configuration: configuration, onEvent: { events.record($0) })
    let port = try await server.start()
    return (server, port, events)
}

@Suite("Client and server over real sockets")
struct RealSocketTests {
    static let dialects: [(HeartbeatDialect, HeartbeatDialect)] = [
        (.json, .json),
        (.text(payload: "heart_beat", reply: "ok"), .text(payload: "heart_beat", reply: "ok")),
        (.text(payload: "666", reply: nil), .text(payload: "666", reply: nil)),
        (.ping, .ping),
        (.serverPush(interval: .ms(50), tolerance: 6), .serverPush(interval: .ms(50), tolerance: 6)),
    ]

    @Test(arguments: dialects)
    func everyDialectExchangesHeartbeats(client clientDialect: HeartbeatDialect, server serverDialect: HeartbeatDialect) async throws {
        let (server, port, serverEvents) = try await startServer(HeartbeatServerConfiguration(dialect: serverDialect))
        // A reply deadline with room for a loaded machine: this test is about the dialects, not timing.
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(dialect: clientDialect, interval: .ms(400), timeout: .ms(390)))
        try await sut.wait(.connected)
        let heartbeatType: ClientEventType = clientDialect.clientSendsHeartbeats ? .heartbeatAcked : .heartbeatReceived
        for _ in 0..<3 {
            try await sut.wait(heartbeatType, from: sut.events.count)
        }
        if clientDialect.clientSendsHeartbeats {
            try await serverEvents.wait(for: "server heartbeat-received") { $0.type == .heartbeatReceived }
        } else {
            try await serverEvents.wait(for: "server heartbeat-pushed") { $0.type == .heartbeatPushed }
        }
        #expect(sut.events.events.filter { $0.type == .disconnected }.isEmpty, "\(sut.events.events.map(\.summary))")
        try await sut.close()
        #expect(sut.events.events.last?.type == .closed)
        await server.stop()
    }

    @Test func clientReconnectsWhenTheServerIsStoppedAndRestarted() async throws {
        let (server, port, _) = try await startServer()
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: .ms(200), timeout: .ms(100)))
        try await sut.wait(.connected)
        let mark = sut.events.count
        await server.stop()
        let lost = try await sut.wait(.disconnected, from: mark)
        #expect(lost.disconnectReason == .peerClosed)
        #expect(lost.detail?.contains("1001") == true, "\(lost.summary)")
        try await sut.wait(.reconnectScheduled, from: mark)
        // Attempts fail (connection refused) while the server is down; restarting on the same port heals it.
        try await sut.wait(.disconnected, from: mark + 2) { $0.disconnectReason == .connectFailed }
        try await server.start()
        let back = try await sut.wait(.connected, from: mark)
        if case .connected(_, let attempt) = back.kind { #expect(attempt >= 1) }
        try await sut.close()
        await server.stop()
    }

    @Test func mutedServerIsDetectedWithinIntervalPlusTimeout() async throws {
        let (server, port, _) = try await startServer()
        let interval = Duration.ms(200), timeout = Duration.ms(100)
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: interval, timeout: timeout))
        try await sut.wait(.heartbeatAcked)
        let mark = sut.events.count
        let mutedAt = Instant.now
        server.setMuted(true)
        let dead = try await sut.wait(.disconnected, timeout: .seconds(5))
        #expect(dead.disconnectReason == .heartbeatTimeout)
        let detection = dead.at - mutedAt
        #expect(detection <= interval + timeout + .ms(150), "detected after \(detection)")
        // Declared dead exactly when the unanswered heartbeat's timeout ran out, not before.
        let unanswered = try #require(sut.events.events.last { $0.type == .heartbeatSent && $0.at <= dead.at })
        #expect(dead.at - unanswered.at >= timeout)
        #expect(dead.at - unanswered.at <= timeout + .ms(50))
        // Reconnecting starts at once; the server answers again after unmuting.
        server.setMuted(false)
        try await sut.wait(.connected, from: mark)
        try await sut.wait(.heartbeatAcked, from: mark)
        try await sut.close()
        await server.stop()
    }

    @Test func deadLinkIsAbandonedWithoutWaitingForTheCloseHandshake() async throws {
        // A server that accepts, then ignores everything, close frames included, and never closes.
        let connections = EventWaiter<String>()
        let server = try await ScriptedWebSocketServer(onOpen: { _ in connections.record("open") }, onFrame: { frame, _ in
            if case .close = frame { connections.record("close-frame") }
        })
        let sut = try ClientUnderTest(
            port: server.port,
            heartbeat: HeartbeatPolicy(interval: .ms(100), timeout: .ms(60), closeGrace: .ms(30)),
            reconnect: ReconnectPolicy(backoff: .fixed(.ms(50)), connectTimeout: .seconds(1))
        )
        try await sut.wait(.connected)
        let dead = try await sut.wait(.disconnected)
        #expect(dead.disconnectReason == .heartbeatTimeout)
        let scheduled = try await sut.wait(.reconnectScheduled)
        #expect(scheduled.at == dead.at, "the reconnect is scheduled at the deadline itself")
        let reconnecting = try await sut.wait(.connecting, from: 2)
        // Reconnecting after the delay (plus timer lateness on a loaded machine), not after a handshake that never ends.
        #expect(reconnecting.at - dead.at < .ms(50) + .ms(200))
        try await connections.wait(for: "close frame from the client") { $0 == "close-frame" }
        try await sut.wait(.connected, from: 3)
        try await sut.close()
        await server.close()
    }

    @Test func applicationMessagesFlowOnASchedule() async throws {
        let (server, port, serverEvents) = try await startServer()
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: .ms(200), timeout: .ms(100)), messages: MessageSchedule(bytes: 300, every: .ms(20)))
        try await sut.wait(.messageSent) { if case .messageSent(_, 300) = $0.kind { true } else { false } }
        try await sut.wait(.messageReceived) { if case .messageReceived(_, 300) = $0.kind { true } else { false } }
        try await serverEvents.wait(for: "server message-received") { $0.type == .messageReceived }
        #expect(try await sut.client.send(text: #"{"ModeCode":"message","msg":"hi"}"#).get())
        try await sut.close()
        await server.stop()
    }

    @Test func manualCloseNeverReconnects() async throws {
        let (server, port, _) = try await startServer()
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: .ms(100), timeout: .ms(50)))
        try await sut.wait(.connected)
        try await sut.close()
        #expect(sut.events.events.suffix(1).map(\.type) == [.closed])
        // The server sees the client leave; the client's event stream has ended with no reconnect.
        var types: [ClientEventType] = []
        for await event in sut.client.events { types.append(event.type) }
        // Nothing follows the close (on a loaded machine a heartbeat may have timed out before it;
        // what matters is that the close is final).
        #expect(types.last == .closed)
        #expect(types.filter { $0 == .closed }.count == 1)
        await server.stop()
    }
}
