import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOCore
import NIOPosix
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private func startServer(_ configuration: HeartbeatServerConfiguration) async throws -> (HeartbeatServer, EventWaiter<ServerEvent>) {
    let events = EventWaiter<ServerEvent>(describe: { $0.record(origin: .zero).jsonLine })
    let server = try HeartbeatServer(configuration: configuration, onEvent: { events.record($0) })
    try await server.start()
    return (server, events)
}

private func client(port: Int, heartbeat: HeartbeatPolicy, events: EventWaiter<ClientEvent>) throws -> HeartbeatClient {
    let client = try HeartbeatClient(
        configuration: HeartbeatClientConfiguration(
            url: WebSocketURL(host: "127.0.0.1", port: port),
            heartbeat: heartbeat,
            reconnect: ReconnectPolicy(backoff: .fixed(.seconds(5)), maxAttempts: 0)
        ),
        onEvent: { events.record($0) }
    )
    client.start()
    return client
}

@Suite("Heartbeat server")
struct HeartbeatServerTests {
    @Test func listeningIsTheFirstEventAndNamesThePort() async throws {
        let (server, events) = try await startServer(HeartbeatServerConfiguration())
        guard case .listening(let host, let port) = events.events.first?.kind else {
            Issue.record("first event: \(String(describing: events.events.first))")
            return
        }
        #expect(host == "127.0.0.1")
        #expect(port == server.port && port > 0)
        await server.stop()
    }

    /// Wiring only: when a silent client is reaped, and the exact instant, is the machine's
    /// (ServerConnectionMachineTests, on a manual clock). Here: the close frame reaches the client.
    @Test func aSilentClientIsReapedWithACloseFrame() async throws {
        let (server, serverEvents) = try await startServer(HeartbeatServerConfiguration(reapAfter: .ms(200)))
        // A server-push client sends nothing of its own: to this server it is silent.
        let clientEvents = EventWaiter<ClientEvent>(describe: { $0.summary })
        let silent = try client(port: server.port!, heartbeat: HeartbeatPolicy(dialect: .serverPush(interval: .seconds(10), tolerance: 1)), events: clientEvents)
        try await serverEvents.wait(for: "reaped") { $0.type == .reaped }
        let lost = try await clientEvents.wait(for: "client disconnected") { $0.type == .disconnected }
        #expect(lost.disconnectReason == .peerClosed)
        try await silent.finished.get()
        await server.stop()
    }

    @Test func plainHTTPGets426() async throws {
        let (server, _) = try await startServer(HeartbeatServerConfiguration())
        let response = EventWaiter<String>()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collect(into: response)) }
            }
            .connect(host: "127.0.0.1", port: server.port!).get()
        try await channel.writeAndFlush(channel.allocator.buffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let text = try await response.wait(for: "an HTTP response") { $0.contains("\r\n\r\n") }
        #expect(text.hasPrefix("HTTP/1.1 426 Upgrade Required"))
        try? await channel.close()
        await server.stop()
    }

    @Test func mutedServerStopsAnsweringButKeepsTheConnection() async throws {
        let (server, serverEvents) = try await startServer(HeartbeatServerConfiguration(dialect: .text(payload: "heart_beat", reply: "ok")))
        server.setMuted(true)
        let clientEvents = EventWaiter<ClientEvent>(describe: { $0.summary })
        let c = try client(port: server.port!, heartbeat: HeartbeatPolicy(dialect: .text(payload: "heart_beat", reply: "ok"), interval: .ms(100), timeout: .ms(80)), events: clientEvents)
        try await serverEvents.wait(for: "heartbeat-received") { $0.type == .heartbeatReceived }
        let dead = try await clientEvents.wait(for: "client disconnected") { $0.type == .disconnected }
        #expect(dead.disconnectReason == .heartbeatTimeout)
        #expect(!clientEvents.events.contains { $0.type == .heartbeatAcked })
        try await c.finished.get()
        await server.stop()
    }

    /// Wiring only (the cadence, and pongs counting as traffic, are the machine's): the server's
    /// pings go out on a live connection.
    @Test func serverPingsGoOut() async throws {
        let (server, serverEvents) = try await startServer(HeartbeatServerConfiguration(pingInterval: .ms(30), reapAfter: .seconds(30)))
        // The client is server-push with a long tolerance: its only traffic is the pongs it owes.
        let clientEvents = EventWaiter<ClientEvent>(describe: { $0.summary })
        let c = try client(port: server.port!, heartbeat: HeartbeatPolicy(dialect: .serverPush(interval: .seconds(10), tolerance: 1)), events: clientEvents)
        for _ in 0..<3 { try await serverEvents.wait(for: "ping-sent", from: serverEvents.count) { $0.type == .pingSent } }
        try await c.close().get()
        await server.stop()
    }

    @Test func stopClosesSocketsThatHaveNotUpgradedYet() async throws {
        let (server, _) = try await startServer(HeartbeatServerConfiguration())
        // Connected, but the upgrade request never sent: the server must not leave it behind.
        let socket = try RawSocket.connect(port: server.port!)
        await server.stop()
        // Closed either way: EOF once accepted, or a reset if the listener went first. Never left open.
        let seen = try await onThread { socket.read(timeout: .seconds(2)) }
        #expect(seen == .eof || seen == .error(ECONNRESET), "\(seen)")
    }

    @Test func invalidConfigurationIsRejected() {
        #expect(throws: ConfigurationError.self) { try HeartbeatServer(configuration: HeartbeatServerConfiguration(port: 70000)) }
        #expect(throws: ConfigurationError.self) { try HeartbeatServer(configuration: HeartbeatServerConfiguration(reapAfter: .zero)) }
    }

    @Test func portInUseIsAnError() async throws {
        let (first, _) = try await startServer(HeartbeatServerConfiguration())
        let second = try HeartbeatServer(configuration: HeartbeatServerConfiguration(port: first.port!))
        await #expect(throws: (any Error).self) { try await second.start() }
        await first.stop()
    }
}

private final class Collect: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let waiter: EventWaiter<String>
    var text = ""
    init(into waiter: EventWaiter<String>) { self.waiter = waiter }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        text += String(buffer: unwrapInboundIn(data))
        waiter.record(text)
    }
}
