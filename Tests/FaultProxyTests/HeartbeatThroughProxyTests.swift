import FaultProxy
import FaultModel
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import TestSupport
import Testing

/// The built-in client and server talking through the proxy.
private struct Setup {
    let server: HeartbeatServer
    let serverEvents: EventWaiter<ServerEvent>
    let proxy: FaultProxy
    let proxyEvents: EventWaiter<ProxyEvent>
    let client: HeartbeatClient
    let clientEvents: EventWaiter<ClientEvent>

    static func make(dialect: HeartbeatDialect, interval: Duration, timeout: Duration, messages: MessageSchedule? = nil) async throws -> Setup {
        let serverEvents = EventWaiter<ServerEvent>(describe: { $0.record(origin: .zero).jsonLine })
        let server = try HeartbeatServer(configuration: HeartbeatServerConfiguration(dialect: dialect), onEvent: { serverEvents.record($0) })
        let port = try await server.start()
        let proxyEvents = EventWaiter<ProxyEvent>(describe: { $0.record(origin: .zero).jsonLine })
        let hub = EventHub<ProxyEvent>()
        hub.onEvent { proxyEvents.record($0) }
        let proxy = try await FaultProxy.start(upstream: HostPort(host: "127.0.0.1", port: port), observeFrames: true, hub: hub)
        let clientEvents = EventWaiter<ClientEvent>(describe: { $0.summary })
        let client = try HeartbeatClient(
            configuration: HeartbeatClientConfiguration(
                url: WebSocketURL(host: "127.0.0.1", port: proxy.port),
                heartbeat: HeartbeatPolicy(dialect: dialect, interval: interval, timeout: timeout),
                reconnect: ReconnectPolicy(backoff: .fixed(.milliseconds(100)), connectTimeout: .seconds(2)),
                messages: messages
            ),
            onEvent: { clientEvents.record($0) }
        )
        client.start()
        return Setup(server: server, serverEvents: serverEvents, proxy: proxy, proxyEvents: proxyEvents, client: client, clientEvents: clientEvents)
    }

    func shutdown() async throws {
        try await client.close().get()
        await proxy.stop()
        await server.stop()
    }
}

@Suite("Heartbeats through the proxy")
struct HeartbeatThroughProxyTests {
    @Test func proxyObservesTheUpgradeAndFrames() async throws {
        let setup = try await Setup.make(dialect: .json, interval: .milliseconds(150), timeout: .milliseconds(120))
        try await setup.clientEvents.wait(for: "ack") { $0.type == .heartbeatAcked }
        try await setup.proxyEvents.wait(for: "upgraded") { $0.type == .upgraded }
        try await setup.proxyEvents.wait(for: "text frame upstream") { $0.type == .frame && $0.fields["flow"] == "upstream" && $0.fields["opcode"] == "text" }
        try await setup.shutdown()
    }

    @Test func droppingPongsKillsPingHeartbeatsWhileTextFlows() async throws {
        let setup = try await Setup.make(dialect: .ping, interval: .milliseconds(100), timeout: .milliseconds(60), messages: MessageSchedule(bytes: 64, every: .milliseconds(20)))
        try await setup.clientEvents.wait(for: "ack") { $0.type == .heartbeatAcked }
        try await setup.proxy.add(Fault(.dropFrames(FrameMatcher(opcodes: ["pong"])), name: "no-pongs", direction: .downstream))
        let mark = setup.clientEvents.count
        // Echoed text keeps arriving; pings still reach the server; pongs do not come back.
        try await setup.clientEvents.wait(for: "echo", from: mark) { $0.type == .messageReceived }
        try await setup.serverEvents.wait(for: "ping at server", from: setup.serverEvents.count) { $0.type == .heartbeatReceived }
        let dead = try await setup.clientEvents.wait(for: "disconnected", from: mark) { $0.type == .disconnected }
        #expect(dead.disconnectReason == .heartbeatTimeout)
        let dropped = try await setup.proxyEvents.wait(for: "frame-dropped") { $0.type == .frameDropped }
        #expect(dropped.fields["opcode"] == "pong")
        #expect(!setup.proxyEvents.events.contains { $0.type == .frameDropped && $0.fields["opcode"] != "pong" })
        try await setup.shutdown()
    }

    @Test func droppingHeartbeatTextByPattern() async throws {
        let setup = try await Setup.make(dialect: .json, interval: .milliseconds(100), timeout: .milliseconds(60), messages: MessageSchedule(bytes: 64, every: .milliseconds(20)))
        try await setup.clientEvents.wait(for: "ack") { $0.type == .heartbeatAcked }
        try await setup.proxy.add(Fault(.dropFrames(FrameMatcher(textPattern: "heart_beat")), name: "no-hb", direction: .upstream))
        let mark = setup.clientEvents.count
        let dead = try await setup.clientEvents.wait(for: "disconnected", from: mark) { $0.type == .disconnected }
        #expect(dead.disconnectReason == .heartbeatTimeout)
        // Ordinary messages keep flowing through the fault (on this connection or the next).
        try await setup.clientEvents.wait(for: "an echoed message", from: mark) { $0.type == .messageReceived }
        try await setup.shutdown()
    }

    @Test func blackholeIsDetectedAtTheDeadlineAndTheClientReconnectsAfterHealing() async throws {
        let interval = Duration.milliseconds(100), timeout = Duration.milliseconds(60)
        let setup = try await Setup.make(dialect: .json, interval: interval, timeout: timeout)
        try await setup.clientEvents.wait(for: "ack") { $0.type == .heartbeatAcked }
        let start = Instant.now
        try await setup.proxy.add(Fault(.blackhole, name: "cable", direction: .both))
        let dead = try await setup.clientEvents.wait(for: "disconnected") { $0.type == .disconnected }
        #expect(dead.disconnectReason == .heartbeatTimeout)
        #expect(dead.at - start <= interval + timeout + .milliseconds(150))
        // While the cable is out, reconnect attempts go nowhere (accepted, silent): connect timeouts.
        let mark = setup.clientEvents.count
        try await setup.proxy.remove("cable")
        try await setup.clientEvents.wait(for: "connected again", from: mark, timeout: .seconds(10)) { $0.type == .connected }
        try await setup.clientEvents.wait(for: "ack again", from: mark) { $0.type == .heartbeatAcked }
        try await setup.shutdown()
    }
}
