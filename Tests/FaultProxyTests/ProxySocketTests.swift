import FaultProxy
import FaultModel
import NIOPosix
import EventSchema
import HeartbeatCore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How long to watch for something that must NOT happen. Absence can only be shown by waiting.
private let quietPeriod = Duration.milliseconds(150)

@Suite("Proxy faults at the socket")
struct ProxySocketTests {
    @Test func forwardsBothWaysWithoutFaults() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try client.send("hello")
        #expect(try await server.read(exactly: 5, within: .seconds(2)) == Array("hello".utf8))
        try server.send("world")
        #expect(try await client.read(exactly: 5, within: .seconds(2)) == Array("world".utf8))
        client.shutdownWrite()
        #expect(try await server.read(within: .seconds(2)) == .eof, "half-close is forwarded")
        try server.send("still")
        #expect(try await client.read(exactly: 5, within: .seconds(2)) == Array("still".utf8), "the other direction stays open")
        await fixture.proxy.stop()
    }

    @Test func blackholeIsSilentAndHealsWithoutClosing() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try client.send("hello")
        #expect(try await server.read(exactly: 5, within: .seconds(2)).count == 5)

        try await fixture.proxy.add(Fault(.blackhole, name: "cable", direction: .both))
        // The client's writes succeed, nothing reaches the server, nobody sees EOF or RST.
        try client.send([UInt8](repeating: 7, count: 10_000))
        try server.send("pong")
        #expect(try await server.read(within: quietPeriod) == .wouldBlock)
        #expect(try await client.read(within: quietPeriod) == .wouldBlock)

        // A FIN from the client is observed but not forwarded.
        client.shutdownWrite()
        let fin = try await fixture.wait(.connClosed) { $0.fields["side"] == "client" }
        #expect(fin.fields["how"] == "fin")
        #expect(fin.fields["forwarded"] == false)
        #expect(try await server.read(within: quietPeriod) == .wouldBlock)

        try await fixture.proxy.remove("cable")
        let off = try await fixture.wait(.faultOff)
        #expect(off.fields["dropped_bytes"]?.intValue == 0, "an outage loses nothing")
        // Healing delivers everything held, in order, the FIN last — as TCP would once the cable is back.
        #expect(try await server.read(exactly: 10_000, within: .seconds(2)) == [UInt8](repeating: 7, count: 10_000))
        #expect(try await server.read(within: .seconds(2)) == .eof)
        #expect(try await client.read(exactly: 4, within: .seconds(2)) == Array("pong".utf8), "the server's bytes too")
        try server.send("after")
        #expect(try await client.read(exactly: 5, within: .seconds(2)) == Array("after".utf8), "the connection survived")
        await fixture.proxy.stop()
    }

    /// A heal reaches every connection, also beyond the slice a loop heals in one turn (64): 150
    /// connections on a loop of their own (three slices), held by a blackhole, each get their own
    /// bytes once it goes.
    @Test func healingReachesEveryConnectionSliceBySlice() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let fixture = try await ProxyFixture.make(group: group)
        var pairs: [(client: RawSocket, server: RawSocket)] = []
        for _ in 0..<150 { pairs.append(try await fixture.connect()) }
        try await fixture.proxy.add(Fault(.blackhole, name: "cable", direction: .both))
        for (index, pair) in pairs.enumerated() { try pair.client.send("c\(index);") }
        #expect(try await pairs[149].server.read(within: quietPeriod) == .wouldBlock)
        try await fixture.proxy.remove("cable")
        for (index, pair) in pairs.enumerated() {
            let expected = Array("c\(index);".utf8)
            #expect(try await pair.server.read(exactly: expected.count, within: .seconds(5)) == expected, "connection \(index)")
        }
        await fixture.proxy.stop()
        try await group.shutdownGracefully()
    }

    @Test func newConnectionsDuringBlackholeAreAcceptedAndSilent() async throws {
        let fixture = try await ProxyFixture.make()
        try await fixture.proxy.add(Fault(.blackhole, direction: .both))
        let client = try RawSocket.connect(port: fixture.proxy.port)
        try client.send("GET / HTTP/1.1\r\n\r\n")
        let listener = fixture.listener
        #expect(try await onThread { listener.accept(timeout: quietPeriod) } == nil, "no upstream connection while silent")
        #expect(try await client.read(within: quietPeriod) == .wouldBlock)
        await fixture.proxy.heal()
        let server = try await onThread { listener.accept(timeout: .seconds(2)) }
        #expect(server != nil, "healing dials the upstream")
        // What the client sent during the outage arrives after it, as after a SYN retransmission:
        // an upgrade request sent into a pulled cable completes once the cable is back.
        let request = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        #expect(try await server?.read(exactly: request.count, within: .seconds(2)) == request)
        try client.send("x")
        #expect(try await server?.read(exactly: 1, within: .seconds(2)) == Array("x".utf8))
        await fixture.proxy.stop()
    }

    @Test func resetGivesECONNRESETToBothPeers() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.reset(after: .zero)))
        #expect(try await client.read(within: .seconds(2)) == .error(ECONNRESET))
        #expect(try await server.read(within: .seconds(2)) == .error(ECONNRESET), "\(fixture.events.events.map { $0.record(origin: .zero).jsonLine })")
        await fixture.proxy.stop()
    }

    @Test func closeGivesEOFToBothPeers() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.close))
        #expect(try await client.read(within: .seconds(2)) == .eof)
        #expect(try await server.read(within: .seconds(2)) == .eof)
        await fixture.proxy.stop()
    }

    @Test func refuseClosesTheListenerOnly() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.refuse, name: "down"))
        #expect(throws: SocketError(code: ECONNREFUSED)) { try RawSocket.connect(port: fixture.proxy.port) }
        try client.send("alive")
        let got = try await server.read(exactly: 5, within: .seconds(2))
        #expect(got.count == 5, "existing connections are unaffected; events: \(fixture.events.events.map { $0.record(origin: .zero).jsonLine })")
        try await fixture.proxy.remove("down")
        let (again, _) = try await fixture.connect()
        try again.send("x")
        await fixture.proxy.stop()
    }

    @Test func powerLossKillsOldConnectionsForGood() async throws {
        let fixture = try await ProxyFixture.make()
        let (old, oldServer) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.powerLoss, name: "power"))
        try old.send("lost")
        #expect(try await oldServer.read(within: quietPeriod) == .wouldBlock, "no data and no FIN to the server")
        #expect(try await old.read(within: quietPeriod) == .wouldBlock, "no data and no FIN to the client")
        // New connections are accepted and held (a SYN retransmitted until the host is back): the
        // server never hears of them while the power is off, and their bytes are kept.
        let during = try RawSocket.connect(port: fixture.proxy.port)
        let listener = fixture.listener
        #expect(try await onThread { listener.accept(timeout: quietPeriod) } == nil)
        try during.send("early")

        try await fixture.proxy.remove("power")
        // The rebooted host knows nothing of the old connections: their next byte gets RST.
        try old.send("hello?")
        #expect(try await old.read(within: .seconds(2)) == .error(ECONNRESET))
        #expect(try await oldServer.read(within: quietPeriod) == .wouldBlock, "the server leg was abandoned without FIN")
        // The held one is dialled at the boot, and what it sent meanwhile arrives.
        let duringServer = try #require(try await onThread { listener.accept(timeout: .seconds(2)) })
        #expect(try await duringServer.read(exactly: 5, within: .seconds(2)) == Array("early".utf8))
        // New connections work.
        let (fresh, freshServer) = try await fixture.connect()
        try fresh.send("ok")
        #expect(try await freshServer.read(exactly: 2, within: .seconds(2)) == Array("ok".utf8))
        await fixture.proxy.stop()
    }

    @Test func unreachableUpstreamClosesTheClientAndSaysWhy() async throws {
        // A port held bound but not listening: connecting is refused, and no other test can take it.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) } }
        let deadPort = Int(UInt16(bigEndian: address.sin_port))
        let fixture = try await ProxyFixture.make(upstreamPort: deadPort)
        let client = try RawSocket.connect(port: fixture.proxy.port)
        let failed = try await fixture.wait(.upstreamFailed)
        #expect(failed.fields["detail"]?.stringValue?.contains("cannot reach upstream") == true)
        // Refused: the client leg is reset at once, as the server's host would have refused it
        // (a FIN would look like an accepted connection that the server closed).
        #expect(try await client.read(within: .seconds(2)) == .error(ECONNRESET))
        await fixture.proxy.stop()
    }

    @Test func aServerThatIsDownIsRefusedAtTheListenerAndBackOnTheSamePort() async throws {
        let fixture = try await ProxyFixture.make()
        let port = fixture.proxy.port
        try await fixture.proxy.setServerDown(true)
        // Refused, as the stopped server's host refuses: no accept and then a close.
        #expect(throws: SocketError(code: ECONNREFUSED)) { _ = try RawSocket.connect(port: port) }
        // A refuse fault removed meanwhile does not open it while the server is down.
        try await fixture.proxy.add(Fault(.refuse, name: "refused"))
        try await fixture.proxy.remove("refused")
        #expect(throws: SocketError(code: ECONNREFUSED)) { _ = try RawSocket.connect(port: port) }
        try await fixture.proxy.setServerDown(false)
        #expect(fixture.proxy.port == port)
        let (client, server) = try await fixture.connect()
        try client.send("back")
        #expect(try await server.read(within: .seconds(2)) == .data(Array("back".utf8)))
        await fixture.proxy.stop()
    }

    @Test func targetsAndToxicityDecidePerConnection() async throws {
        let fixture = try await ProxyFixture.make()
        let (first, firstServer) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.blackhole, name: "only-new", direction: .both, target: .new))
        try first.send("a")
        #expect(try await firstServer.read(exactly: 1, within: .seconds(2)).count == 1, "existing connection untouched")
        let second = try RawSocket.connect(port: fixture.proxy.port)
        try second.send("b")
        #expect(try await second.read(within: quietPeriod) == .wouldBlock)
        try await fixture.proxy.remove("only-new")

        try await fixture.proxy.add(Fault(.blackhole, name: "never", direction: .both, toxicity: 0))
        let skipped = try await fixture.wait(.faultSkipped)
        #expect(skipped.fields["fault"] == "never")
        try first.send("c")
        #expect(try await firstServer.read(exactly: 1, within: .seconds(2)) == Array("c".utf8))
        await fixture.proxy.stop()
    }

    @Test func faultNamesMustBeUniqueAndKnown() async throws {
        let fixture = try await ProxyFixture.make()
        try await fixture.proxy.add(Fault(.blackhole, name: "x"))
        await #expect(throws: ProxyError(.conflict, "toxic x already exists on proxy flatline")) { try await fixture.proxy.add(Fault(.close, name: "x")) }
        await #expect(throws: ProxyError(.notFound, "toxic not found: no toxic y on proxy flatline")) { try await fixture.proxy.remove("y") }
        await #expect(throws: ProxyError.self) { try await fixture.proxy.add(Fault(.latency(latency: .seconds(-1), jitter: .zero))) }
        await fixture.proxy.stop()
    }

    @Test func withFaultAlwaysHeals() async throws {
        let fixture = try await ProxyFixture.make()
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await fixture.proxy.withFault(Fault(.blackhole, name: "scoped")) { throw Boom() }
        }
        #expect(fixture.proxy.faults.isEmpty)
        await fixture.proxy.stop()
    }
}

@Suite("Toxiproxy-style faults at the socket")
struct ToxiproxyStyleSocketTests {
    @Test func slowCloseDelaysTheFIN() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.slowClose(delay: .milliseconds(300)), direction: .upstream))
        client.shutdownWrite()
        #expect(try await server.read(within: .milliseconds(150)) == .wouldBlock)
        #expect(try await server.read(within: .seconds(2)) == .eof)
        await fixture.proxy.stop()
    }

    @Test func limitDataClosesAfterTheLimit() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.limitData(bytes: 10), direction: .upstream))
        try client.send([UInt8](repeating: 1, count: 25))
        #expect(try await server.read(exactly: 10, within: .seconds(2)).count == 10)
        #expect(try await server.read(within: .seconds(2)) == .eof)
        await fixture.proxy.stop()
    }

    @Test func timeoutClosesAfterItsTimeout() async throws {
        let fixture = try await ProxyFixture.make()
        let (client, server) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.timeout(.milliseconds(200)), direction: .both))
        try client.send("lost")
        // The bytes are dropped: the first thing the server sees is the close, not data (checked
        // without a timing window, which a loaded machine could overrun).
        #expect(try await server.read(within: .seconds(5)) == .eof)
        #expect(try await client.read(within: .seconds(2)) == .eof)
        await fixture.proxy.stop()
    }
}

@Suite("Faults added while connections are accepted")
struct AcceptRaceTests {
    /// A fault added while connections are being accepted reaches every one of them: either the
    /// accept sees it in the fault list, or the fault sees the connection registered. Before, both
    /// were read under separate lock acquisitions and a connection accepted in between kept
    /// going without the fault. `close` makes a miss visible: the missed connection stays open.
    @Test func noConnectionMissesAFaultAddedDuringItsAccept() async throws {
        for round in 0..<8 {
            let fixture = try await ProxyFixture.make()
            let listener = fixture.listener
            // Accept the upstream side of whatever the proxy dials, in the background.
            let acceptor = Task.detached {
                var held: [RawSocket] = []
                while !Task.isCancelled, let socket = listener.accept(timeout: .milliseconds(50)) { held.append(socket) }
                return held.count
            }
            let port = fixture.proxy.port
            async let clients: [RawSocket] = onThread { try (0..<48).map { _ in try RawSocket.connect(port: port) } }
            try await Task.sleep(for: .microseconds(Int64(round) * 300))
            try await fixture.proxy.add(Fault(.close, name: "cut"))
            let opened = try await clients
            for (index, client) in opened.enumerated() {
                let result = try await client.read(within: .seconds(3))
                #expect(result == .eof || result.isReset, "round \(round): client \(index) was not closed by the fault: \(result)")
            }
            acceptor.cancel()
            _ = await acceptor.value
            await fixture.proxy.stop()
        }
    }
}

extension RawSocket.ReadResult {
    var isReset: Bool { if case .error(ECONNRESET) = self { true } else { false } }
}

@Suite("Power loss leaves nothing behind")
struct PowerLossLeakTests {
    /// A client that closes while the host is down leaves a half-closed socket; once the power is
    /// back the rebooted host answers its FIN with RST, and the connection is gone (before, it
    /// stayed in CLOSE_WAIT for good, also after heal and /reset).
    @Test func aClientThatClosedDuringPowerLossIsReleasedAfterHeal() async throws {
        let fixture = try await ProxyFixture.make()
        let (old, oldServer) = try await fixture.connect()
        let (closing, closingServer) = try await fixture.connect()
        try await fixture.proxy.add(Fault(.powerLoss, name: "power"))
        closing.shutdownWrite()
        try await fixture.wait(.connClosed) { $0.fields["side"] == "client" && $0.fields["forwarded"] == false }
        // Its server closes too (its own timeout): that leg is let go as well.
        closingServer.shutdownWrite()
        try await fixture.proxy.remove("power")
        #expect(try await closing.read(within: .seconds(2)) == .error(ECONNRESET), "the rebooted host resets the half-closed connection")
        // The released connection ends (both legs gone); the untouched old one stays.
        try await fixture.wait(.connEnded) { $0.fields["conn"] == 2 }
        #expect(fixture.proxy.connectionCount == 1, "only the untouched old connection remains")
        _ = (old, oldServer)
        await fixture.proxy.stop()
    }
}
