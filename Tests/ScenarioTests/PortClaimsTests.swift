import ScenarioModel
@testable import Scenario
import Testing

/// Scenarios side by side (`--jobs`) must never be given one port: a bare bind to port 0 offers a
/// port another scenario has let go of for a moment (its server between stop and start, its packet
/// rules still being deleted), and the two would share a server or a rule.
@Suite("Port claims")
struct PortClaimsTests {
    /// 3,000 ports each for two worlds: bare binds to port 0 would repeat a port hundreds of times
    /// (about 14,000 odd ports to draw from); claims never.
    @Test func twoWorldsNeverShareAPort() throws {
        let first = PortClaims(), second = PortClaims()
        defer {
            first.releaseAll()
            second.releaseAll()
        }
        let mine = try (0..<3_000).map { _ in try first.take() }
        let theirs = try (0..<3_000).map { _ in try second.take() }
        #expect(Set(mine).count == mine.count)
        #expect(Set(theirs).count == theirs.count)
        #expect(Set(mine).isDisjoint(with: theirs))
        // The kernel alone would have offered some of them again.
        let bare = try (0..<3_000).map { _ in try PortClaims.unbound() }
        #expect(!Set(bare).isDisjoint(with: mine))
    }

    @Test func portsAreHeldUntilReleased() throws {
        let claims = PortClaims()
        let port = try claims.take()
        #expect(PortClaims.isHeld(port))
        #expect(claims.ports == [port])
        claims.releaseAll()
        #expect(!PortClaims.isHeld(port))
        #expect(claims.ports.isEmpty)
    }
}

@Suite("Port claims of a world")
struct WorldPortClaimsTests {
    /// A world holds its server's port through `server: stop` (nobody else may take it before the
    /// restart) and its proxy's, and lets both go only when its teardown has ended.
    @Test func aWorldHoldsItsPortsUntilItsTeardownHasEnded() async throws {
        let scenario = try Scenario.parse("name: held\ntimeline:\n  - wait: 10ms\n", file: "held.yaml")
        let world = try await World.start(scenario, log: EventLog(origin: .now), executable: nil)
        let ports = [world.serverPort] + world.proxies.map(\.port)
        #expect(ports.allSatisfy(PortClaims.isHeld), "\(ports)")
        await world.server.stop()
        #expect(PortClaims.isHeld(world.serverPort), "a stopped server's port is still the world's")
        #expect(try await world.server.start() == world.serverPort)
        await world.stop()
        #expect(!ports.contains(where: PortClaims.isHeld), "\(ports)")
    }
}
