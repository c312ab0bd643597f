import FaultProxy
import FaultModel
import NIOCore
import NIOPosix
import EventSchema
import HeartbeatCore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A raw listening "server", a proxy in front of it, and the proxy's events.
struct ProxyFixture {
    let listener: RawListener
    let proxy: FaultProxy
    let events: EventWaiter<ProxyEvent>

    static func make(observeFrames: Bool = false, upstreamPort: Int? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> ProxyFixture {
        let listener = try RawListener()
        let events = EventWaiter<ProxyEvent>(describe: { $0.record(origin: .zero).jsonLine })
        let hub = EventHub<ProxyEvent>()
        hub.onEvent { events.record($0) }
        let proxy = try await FaultProxy.start(
            upstream: HostPort(host: "127.0.0.1", port: upstreamPort ?? listener.port),
            group: group,
            observeFrames: observeFrames,
            seed: 42,
            hub: hub
        )
        return ProxyFixture(listener: listener, proxy: proxy, events: events)
    }

    /// A client connected through the proxy and the server side it reached.
    func connect() async throws -> (client: RawSocket, server: RawSocket) {
        let client = try RawSocket.connect(port: proxy.port)
        let listener = self.listener
        guard let server = try await onThread({ listener.accept(timeout: .seconds(5)) }) else {
            throw WaitTimeout(message: "the proxy did not connect upstream; events:\n\(events.events.map { $0.record(origin: .zero).jsonLine })")
        }
        return (client, server)
    }

    @discardableResult
    func wait(_ type: ProxyEventType, timeout: Duration = .seconds(5), where extra: @escaping @Sendable (ProxyEvent) -> Bool = { _ in true }) async throws -> ProxyEvent {
        try await events.wait(for: "proxy \(type.rawValue)", timeout: timeout) { $0.type == type && extra($0) }
    }
}

extension RawSocket {
    /// Reads on a thread (so the test's executor is never blocked).
    func read(within timeout: Duration) async throws -> ReadResult {
        try await onThread { self.read(timeout: timeout) }
    }

    func read(exactly count: Int, within timeout: Duration) async throws -> [UInt8] {
        try await onThread { self.read(exactly: count, timeout: timeout) }
    }
}
