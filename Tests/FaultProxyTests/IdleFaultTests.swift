import FaultProxy
import FaultModel
import EventSchema
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How long to watch for something that must NOT happen.
private let quietPeriod = Duration.milliseconds(150)

/// The middleboxes that act on idle connections: a NAT that forgets them (`nat-expiry`), a load
/// balancer that closes them (`idle-close`). Each waits on the proxy's `idle-expired` event.
@Suite("Idle faults at the socket")
struct IdleFaultTests {
    /// Sends a byte every `every` for `count` times: traffic that keeps a mapping alive.
    private func chatter(_ client: RawSocket, _ server: RawSocket, every: Duration, count: Int) async throws {
        for index in 0..<count {
            if index % 2 == 0 { try client.send("u") } else { try server.send("d") }
            try await Task.sleep(for: every)
        }
    }

    @Test func aNATForgetsAnIdleConnectionAndDropsItsPacketsForGood() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.natExpiry(idle: .milliseconds(400), then: .drop), name: "nat"))
        // Traffic either way keeps the mapping: 8 × 80 ms is longer than the idle time (and a
        // loaded machine may oversleep a gap by 300 ms before the test is wrong).
        try await chatter(client, server, every: .milliseconds(80), count: 8)
        #expect(!fixture.events.events.contains { $0.type == .idleExpired }, "a connection carrying bytes is not idle")
        #expect(try await server.read(exactly: 4, within: .seconds(1)) == Array("uuuu".utf8))
        #expect(try await client.read(exactly: 4, within: .seconds(1)) == Array("dddd".utf8))

        let expired = try await fixture.wait(.idleExpired, timeout: .seconds(2))
        #expect(expired.fields["then"] == "drop")
        #expect(expired.fields["idle_ms"] == 400)
        try client.send("lost")
        try server.send("lost too")
        #expect(try await server.read(within: quietPeriod) == .wouldBlock, "nothing reaches the server, no FIN, no RST")
        #expect(try await client.read(within: quietPeriod) == .wouldBlock, "nothing reaches the client, no FIN, no RST")

        // A new connection is a new mapping; removing the fault revives nothing.
        let (fresh, freshServer) = try await fixture.connect()
        try fresh.send("new")
        #expect(try await freshServer.read(exactly: 3, within: .seconds(1)) == Array("new".utf8))
        try await fixture.proxy.remove("nat")
        try client.send("still lost")
        #expect(try await server.read(within: quietPeriod) == .wouldBlock, "what the NAT forgot stays forgotten")
        await fixture.proxy.stop()
    }

    @Test func aNATThatResetsAnswersWhicheverPeerSendsNext() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.natExpiry(idle: .milliseconds(200), then: .reset), name: "nat"))
        try await fixture.wait(.idleExpired, timeout: .seconds(2))
        #expect(try await server.read(within: quietPeriod) == .wouldBlock, "the server hears of it only when it sends")
        try client.send("hello?")
        #expect(try await client.read(within: .seconds(1)) == .error(ECONNRESET))
        #expect(try await server.read(within: quietPeriod) == .wouldBlock, "the client's RST is the NAT's, not forwarded")
        try server.send("ping")
        #expect(try await server.read(within: .seconds(1)) == .error(ECONNRESET))
        await fixture.proxy.stop()
    }

    @Test(arguments: [IdleCloseHow.fin, .rst])
    func aLoadBalancerClosesAnIdleConnectionToBothPeers(how: IdleCloseHow) async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.idleClose(idle: .milliseconds(400), with: how), name: "lb"))
        try await chatter(client, server, every: .milliseconds(80), count: 8)
        #expect(!fixture.events.events.contains { $0.type == .idleExpired }, "a connection carrying bytes is not idle")
        _ = try await server.read(exactly: 4, within: .seconds(1))
        _ = try await client.read(exactly: 4, within: .seconds(1))
        let expired = try await fixture.wait(.idleExpired, timeout: .seconds(2))
        #expect(expired.fields["then"] == .string(how.rawValue))
        let expected: RawSocket.ReadResult = how == .fin ? .eof : .error(ECONNRESET)
        #expect(try await client.read(within: .seconds(1)) == expected)
        #expect(try await server.read(within: .seconds(1)) == expected)
        await fixture.proxy.stop()
    }

    @Test func idleTimeIsCountedPerConnection() async throws {
        let fixture = try await ProxyFixture.make()
        let (quiet, _) = try await fixture.connect()
        let (busy, busyServer) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.idleClose(idle: .milliseconds(400), with: .fin), name: "lb"))
        try await chatter(busy, busyServer, every: .milliseconds(60), count: 10)
        #expect(try await quiet.read(within: .seconds(1)) == .eof, "the quiet one is closed")
        let closed = fixture.events.events.filter { $0.type == .idleExpired }
        #expect(closed.count == 1, "only the quiet connection was idle: \(closed.map { $0.record(origin: .zero).jsonLine })")
        await fixture.proxy.stop()
    }
}
