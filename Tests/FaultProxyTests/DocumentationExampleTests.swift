// The example of docs/proxy.md, kept compiling and passing.
import FaultProxy
import FaultModel
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import Testing

@Test(.timeLimit(.minutes(1)))  // every wait below ends when the test is cancelled
func clientNoticesAPulledCable() async throws {
    let server = try HeartbeatServer(configuration: HeartbeatServerConfiguration())
    let serverPort = try await server.start()
    let proxy = try await FaultProxy.start(upstream: HostPort(host: "127.0.0.1", port: serverPort))

    let client = try HeartbeatClient(configuration: HeartbeatClientConfiguration(
        url: WebSocketURL(host: "127.0.0.1", port: proxy.port),
        heartbeat: HeartbeatPolicy(dialect: .json, interval: .milliseconds(100), timeout: .milliseconds(60)),
        reconnect: ReconnectPolicy(backoff: .fixed(.milliseconds(100)))
    ))
    client.start()
    var events = client.events.makeAsyncIterator()
    while let event = await events.next(), event.type != .heartbeatAcked {}

    // The fault is removed when the closure ends, even if it throws.
    let reason: DisconnectReason? = try await proxy.withFault(Fault(.blackhole, direction: .both)) {
        while let event = await events.next() {
            if case .disconnected(_, let reason, _) = event.kind { return reason }
        }
        return nil
    }
    #expect(reason == .heartbeatTimeout)

    while let event = await events.next(), event.type != .connected {}   // reconnects once healed
    try await client.close().get()
    await proxy.stop()
    await server.stop()
}
