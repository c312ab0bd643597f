import EventSchema
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import Scenario
import ScenarioJudging
import ScenarioReporting
@testable import ScenarioModel
import Testing

@Suite("External processes")
struct ExternalProcessTests {
    @Test func commandPlaceholdersNameTheScenarioSettings() {
        let environment: [String: DurationExpression.Value] = [
            "heartbeat.interval": .duration(.milliseconds(300)), "heartbeat.timeout": .duration(.milliseconds(1500)),
            "reconnect.max-attempts": .number(5),
        ]
        let argv = CommandTemplate.expand(
            ["node", "c.js", "{url}", "--interval={heartbeat.interval.ms}", "{heartbeat.timeout.s}", "{reconnect.max-attempts}", "{port}"],
            url: "ws://127.0.0.1:9/", host: "127.0.0.1", port: 9, environment: environment
        )
        #expect(argv == ["node", "c.js", "ws://127.0.0.1:9/", "--interval=300", "1.5", "5", "9"])
        #expect(throws: ConfigurationError.self) { try CommandTemplate.validate(["{heartbeat.nope.ms}"], environment: environment) }
        #expect(throws: Never.self) { try CommandTemplate.validate(["{url}", "{heartbeat.timeout.s}"], environment: environment) }
    }

    /// A child must not inherit Flatline's listeners: an inherited one keeps accepting after
    /// Flatline closed it, so a 'refuse' fault or a stopped server would still accept connections.
    @Test func aChildDoesNotKeepFlatlinesListenersOpen() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        let child = try ChildProcess(arguments: ["sleep", "5"], environment: [:], onLine: { _ in }, onExit: { _ in })
        try await listener.close()
        // Nothing listens any more: the connection is refused (it was accepted while sleep held the socket).
        await #expect(throws: (any Error).self) {
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await channel.close()
        }
        await child.stop()
    }

    /// The exit is observed once, without polling; the exited child stays a zombie (its PID cannot
    /// be reused, so signalling its group is safe) until stop reaps it.
    @Test func exitIsObservedAndThePIDIsHeldUntilReaped() async throws {
        let exits = NIOLockedValueBox<[Int32]>([])
        let child = try ChildProcess(arguments: ["sh", "-c", "exit 3"], environment: [:], onLine: { _ in }, onExit: { code in exits.withLockedValue { $0.append(code) } })
        #expect(await child.exited(within: .seconds(10)))
        #expect(child.exitCode == 3)
        #expect(kill(child.pid, 0) == 0, "the exited child is kept as a zombie until reaped")
        await child.stop()
        #expect(kill(child.pid, 0) == -1 && errno == ESRCH, "stop reaps it")
        child.signal(SIGTERM)  // after the reap: never sent
        #expect(exits.withLockedValue { $0 } == [3])
        let killed = try ChildProcess(arguments: ["sleep", "30"], environment: [:], onLine: { _ in }, onExit: { _ in })
        let started = ContinuousClock.now
        await killed.stop(grace: .milliseconds(100))
        #expect(killed.exitCode == 128 + SIGTERM)
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
