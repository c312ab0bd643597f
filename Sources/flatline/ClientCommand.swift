import ArgumentParser
import HeartbeatClient
import EventSchema
import HeartbeatCore
import NIOCore
import NIOPosix

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
    @Option(help: "Heartbeat dialect: json, text, ping or server-push.") var dialect: String = "json"
    @Option(help: "Time between heartbeats.") var interval: String = "4s"
    @Option(help: "Reply deadline; no reply within it means the link is dead.") var timeout: String = "2s"
    @Flag(help: "Any inbound message proves the link alive and postpones the next heartbeat.") var anyMessageAlive = false
    @Option(help: "How long a close frame may take before the socket is dropped (default: timeout/2, at most 1s).") var closeGrace: String?
    @Option(help: "Text heartbeat payload (text dialect).") var textPayload: String = HeartbeatDialect.defaultTextPayload
    @Option(help: "Required reply to a text heartbeat (text dialect); '-' accepts any text.") var textReply: String = "ok"
    @Option(help: "Expected server heartbeat period (server-push dialect).") var pushInterval: String = "1s"
    @Option(help: "Dead after push-interval × tolerance without a server heartbeat (server-push).") var pushTolerance: Double = 1.5

    @Option(help: "Fixed delay before each reconnect.") var reconnectDelay: String = "3s"
    @Option(help: "Use exponential backoff starting at this delay (replaces --reconnect-delay).") var backoffInitial: String?
    @Option(help: "Backoff multiplier per attempt.") var backoffMultiplier: Double = 2
    @Option(help: "Backoff cap (before jitter).") var backoffCap: String = "30s"
    @Option(help: "Jitter fraction: each delay is spread over delay × (1 ± jitter).") var jitter: Double = 0
    @Option(help: "Reconnect attempts after a loss before giving up (default: forever).") var maxAttempts: Int?
    @Option(help: "A connection up this long resets the attempt count (0: reset on connect).") var stableAfter: String = "0"
    @Option(help: "Limit on TCP connect plus WebSocket upgrade.") var connectTimeout: String = "5s"
    @Option(help: "Seed for jitter, for repeatable runs.") var seed: UInt64?

    @Option(help: "Send an application message of this many bytes every --send-every.") var sendBytes: Int?
    @Option(help: "Period of application messages.") var sendEvery: String = "1s"
    @Option(help: "Largest inbound frame in bytes.") var maxFrameSize: Int = 1 << 20
    @Option(help: "Close the client after this long (default: run until Ctrl-C or gave up).") var runFor: String?
    @Option(help: "Event output: jsonl or text.") var events: EventFormat = .text

    func makeConfiguration() throws -> HeartbeatClientConfiguration {
        do {
            let url = try WebSocketURL(parsing: self.url)
            let dialect = try HeartbeatDialect.named(
                self.dialect,
                textPayload: textPayload,
                textReply: .some(textReply == "-" ? nil : textReply),
                pushInterval: try parseDuration(pushInterval, option: "--push-interval"),
                tolerance: pushTolerance
            )
            let heartbeat = HeartbeatPolicy(
                dialect: dialect,
                interval: try parseDuration(interval, option: "--interval"),
                timeout: try parseDuration(timeout, option: "--timeout"),
                anyMessageCountsAsAlive: anyMessageAlive,
                closeGrace: try closeGrace.map { try parseDuration($0, option: "--close-grace") }
            )
            let backoff: ReconnectPolicy.Backoff
            if let backoffInitial {
                backoff = .exponential(
                    initial: try parseDuration(backoffInitial, option: "--backoff-initial"),
                    multiplier: backoffMultiplier,
                    cap: try parseDuration(backoffCap, option: "--backoff-cap")
                )
            } else {
                backoff = .fixed(try parseDuration(reconnectDelay, option: "--reconnect-delay"))
            }
            let reconnect = ReconnectPolicy(
                backoff: backoff,
                jitter: jitter,
                maxAttempts: maxAttempts,
                stableAfter: try parseDuration(stableAfter, option: "--stable-after"),
                connectTimeout: try parseDuration(connectTimeout, option: "--connect-timeout")
            )
            let messages = try sendBytes.map { MessageSchedule(bytes: $0, every: try parseDuration(sendEvery, option: "--send-every")) }
            let configuration = HeartbeatClientConfiguration(
                url: url,
                heartbeat: heartbeat,
                reconnect: reconnect,
                maxFrameSize: maxFrameSize,
                messages: messages,
                randomSeed: seed
            )
            try configuration.validate()
            return configuration
        } catch let error as ConfigurationError {
            throw error.validationError
        }
    }

    func validate() throws {
        _ = try makeConfiguration()
        if let runFor { _ = try parseDuration(runFor, option: "--run-for") }
    }

    func run() async throws {
        let configuration = try makeConfiguration()
        let origin = Instant.now
        let format = events
        let client = try HeartbeatClient(configuration: configuration) { event in
            LineWriter.standardOutput.write(event.record(origin: origin), format: format)
        }
        let signals = TerminationSignals { _ in client.close() }
        defer { signals.cancel() }
        if let runFor {
            let limit = try parseDuration(runFor, option: "--run-for")
            client.eventLoop.scheduleTask(in: limit.timeAmount) { client.close() }
        }
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
