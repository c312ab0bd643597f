import ArgumentParser
import HeartbeatClient
import EventSchema
import HeartbeatCore
import NIOCore
import NIOPosix
import Scenario

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run the built-in heartbeat client against a WebSocket server.",
        discussion: """
            The client sends a heartbeat every --interval; no reply within --timeout means the link \
            is dead at that instant: it drops the connection without waiting for a close handshake \
            and reconnects after the reconnect delay. Ctrl-C closes it cleanly (it never reconnects \
            after that). Exits 0 when closed, 1 when it gave up after --max-attempts.

            Example: flatline client ws://127.0.0.1:PORT --dialect json --interval 4s --timeout 2s \\
                       --reconnect-delay 3s --max-attempts 5 --events jsonl
            """
    )

    @Argument(help: "Server address, ws://HOST:PORT/PATH.") var url: String
    @Option(help: "Heartbeat dialect.") var dialect: HeartbeatDialect.Name = HeartbeatPolicy().dialect.kind
    @Option(help: "Time between heartbeats (250ms, 4s, 1m…).") var interval: Duration = HeartbeatPolicy().interval
    @Option(help: "Reply deadline; no reply within it means the link is dead.") var timeout: Duration = HeartbeatPolicy().timeout
    @Flag(help: "Any inbound message proves the link alive and postpones the next heartbeat.") var anyMessageAlive = false
    @Option(help: "How long a close frame may take before the socket is dropped (default: timeout/2, at most 1s).") var closeGrace: Duration?
    @Option(help: "Text heartbeat payload (text dialect).") var textPayload: String = HeartbeatDialect.defaultTextPayload
    @Option(help: "Required reply to a text heartbeat (text dialect); '-' accepts any text.") var textReply: String = HeartbeatDialect.defaultTextReply
    @Option(help: "Expected server heartbeat period (server-push dialect).") var pushInterval: Duration = HeartbeatDialect.defaultPushInterval
    @Option(help: "Dead after push-interval × tolerance without a server heartbeat (server-push).") var pushTolerance: Double = HeartbeatDialect.defaultPushTolerance

    @Option(help: "Fixed delay before each reconnect.") var reconnectDelay: Duration = ReconnectPolicy.defaultDelay
    @Option(help: "Use exponential backoff starting at this delay (replaces --reconnect-delay).") var backoffInitial: Duration?
    @Option(help: "Backoff multiplier per attempt.") var backoffMultiplier: Double = ReconnectPolicy.defaultBackoffMultiplier
    @Option(help: "Backoff cap (before jitter).") var backoffCap: Duration = ReconnectPolicy.defaultBackoffCap
    @Option(help: "Jitter fraction: each delay is spread over delay × (1 ± jitter).") var jitter: Double = ReconnectPolicy().jitter
    @Option(help: "Reconnect attempts after a loss before giving up (default: forever).") var maxAttempts: Int?
    @Option(help: "A connection up this long resets the attempt count (0: reset on connect).") var stableAfter: Duration = ReconnectPolicy().stableAfter
    @Option(help: "Limit on TCP connect plus WebSocket upgrade.") var connectTimeout: Duration = ReconnectPolicy.defaultConnectTimeout
    @Option(help: "Seed for jitter, for repeatable runs.") var seed: UInt64?

    @Option(help: "Send an application message of this many bytes every --send-every.") var sendBytes: Int?
    @Option(help: "Period of application messages.") var sendEvery: Duration = MessageSchedule.defaultEvery
    @Option(help: "Largest inbound frame in bytes.") var maxFrameSize: Int = HeartbeatClientConfiguration.defaultMaxFrameSize
    @Option(help: "Close the client after this long (default: run until Ctrl-C or gave up).") var runFor: Duration?
    @Option(help: "Event output: jsonl or text.") var events: EventFormat = .text

    func makeConfiguration() throws -> HeartbeatClientConfiguration {
        let dialect = HeartbeatDialect.named(
            self.dialect, textPayload: textPayload, textReply: .some(textReply == "-" ? nil : textReply), pushInterval: pushInterval, tolerance: pushTolerance
        )
        let heartbeat = HeartbeatPolicy(dialect: dialect, interval: interval, timeout: timeout, anyMessageCountsAsAlive: anyMessageAlive, closeGrace: closeGrace)
        let backoff: ReconnectPolicy.Backoff =
            if let backoffInitial { .exponential(initial: backoffInitial, multiplier: backoffMultiplier, cap: backoffCap) } else { .fixed(reconnectDelay) }
        let reconnect = ReconnectPolicy(backoff: backoff, jitter: jitter, maxAttempts: maxAttempts, stableAfter: stableAfter, connectTimeout: connectTimeout)
        do {
            let configuration = HeartbeatClientConfiguration(
                url: try WebSocketURL(parsing: self.url), heartbeat: heartbeat, reconnect: reconnect, maxFrameSize: maxFrameSize,
                messages: sendBytes.map { MessageSchedule(bytes: $0, every: sendEvery) }, randomSeed: seed
            )
            try configuration.validate()
            return configuration
        } catch {
            throw error.validationError
        }
    }

    func validate() throws { _ = try makeConfiguration() }

    func run() async throws {
        let configuration = try makeConfiguration()
        let origin = Instant.now
        let format = events
        let client = try HeartbeatClient(configuration: configuration) { event in
            LineWriter.standardOutput.write(event.record(origin: origin), format: format)
        }
        let signals = TerminationSignals { _ in client.close() }
        defer { signals.cancel() }
        if let runFor { client.eventLoop.scheduleTask(in: runFor.timeAmount) { client.close() } }
        var gaveUp = false
        let watcher = Task {
            for await event in client.events {
                if case .gaveUp = event.kind { return true }
            }
            return false
        }
        try await client.run()
        gaveUp = await watcher.value
        if gaveUp { throw ExitCode(1) }
    }
}
