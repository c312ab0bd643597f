import ArgumentParser
import WebSocketSupport
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a WebSocket heartbeat server (prints the bound port as its first event).",
        discussion: """
            The server answers every dialect: JSON heartbeats are echoed, the text payload gets the \
            text reply, pings get pongs. --dialect server-push makes it push {"heartbeat": <ms>} \
            every --push-interval. Stop it with Ctrl-C.

            Example: flatline server --port 0 --dialect json --reap-after 10s
            """
    )

    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one.") var port: Int = 0
    @Option(help: "Heartbeat dialect: json, text, ping or server-push.") var dialect: String = "json"
    @Option(help: "Text heartbeat payload the server recognises (text dialect).") var textPayload: String = HeartbeatDialect.defaultTextPayload
    @Option(help: "Reply to a text heartbeat (text dialect); '-' echoes the payload.") var textReply: String = "ok"
    @Option(help: "Push a heartbeat this often (server-push dialect).") var pushInterval: String = "1s"
    @Option(help: "Send a ping of the server's own this often.") var pingInterval: String?
    @Option(help: "Close connections that send nothing for this long.") var reapAfter: String?
    @Flag(help: "Start muted: heartbeats are not answered (a server that stopped responding).") var mute = false
    @Flag(help: "Do not echo application messages.") var noEcho = false
    @Option(help: "Largest inbound frame in bytes.") var maxFrameSize: Int = 1 << 20
    @Option(help: "Stop after this long (default: run until Ctrl-C).") var runFor: String?
    @Option(help: "Event output: jsonl or text.") var events: EventFormat = .text

    func makeConfiguration() throws -> HeartbeatServerConfiguration {
        let dialect: HeartbeatDialect
        do {
            dialect = try HeartbeatDialect.named(
                self.dialect,
                textPayload: textPayload,
                textReply: .some(textReply == "-" ? nil : textReply),
                pushInterval: try parseDuration(pushInterval, option: "--push-interval")
            )
        } catch let error as ConfigurationError {
            throw error.validationError
        }
        let configuration = HeartbeatServerConfiguration(
            host: host,
            port: port,
            dialect: dialect,
            pingInterval: try pingInterval.map { try parseDuration($0, option: "--ping-interval") },
            reapAfter: try reapAfter.map { try parseDuration($0, option: "--reap-after") },
            echoMessages: !noEcho,
            maxFrameSize: maxFrameSize
        )
        do {
            try configuration.validate()
        } catch {
            throw error.validationError
        }
        return configuration
    }

    func validate() throws {
        _ = try makeConfiguration()
        if let runFor { _ = try parseDuration(runFor, option: "--run-for") }
    }

    func run() async throws {
        OpenFiles.raise()  // a proxy or server for thousands of connections
        let configuration = try makeConfiguration()
        let origin = Instant.now
        let format = events
        let server = try HeartbeatServer(configuration: configuration) { event in
            LineWriter.standardOutput.write(event.record(origin: origin), format: format)
        }
        if mute { server.setMuted(true) }
        do {
            try await server.start()
        } catch {
            LineWriter.standardError.write("flatline server: cannot listen on \(configuration.host):\(configuration.port): \(error)")
            throw ExitCode(2)
        }
        let mute = SignalWatch(SIGUSR1) { server.setMuted(true) }
        let unmute = SignalWatch(SIGUSR2) { server.setMuted(false) }
        defer {
            mute.cancel()
            unmute.cancel()
        }
        await waitUntilStopped(runFor: try runFor.map { try parseDuration($0, option: "--run-for") })
        await server.stop()
        server.finishEvents()
    }
}
