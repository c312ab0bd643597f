import EventSchema
import Foundation
import NIOCore
import NIOPosix
@testable import Scenario
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
}
