import ArgumentParser
import WebSocketSupport
import NetworkSupport
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
import Scenario
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
    @Option(help: "Heartbeat dialect.") var dialect: HeartbeatDialect.Name = HeartbeatServerConfiguration().dialect.kind
    @Option(help: "Text heartbeat payload the server recognises (text dialect).") var textPayload: String = HeartbeatDialect.defaultTextPayload
    @Option(help: "Reply to a text heartbeat (text dialect); '-' echoes the payload.") var textReply: String = HeartbeatDialect.defaultTextReply
    @Option(help: "Push a heartbeat this often (server-push dialect; 250ms, 1s…).") var pushInterval: Duration = HeartbeatDialect.defaultPushInterval
    @Option(help: "Send a ping of the server's own this often.") var pingInterval: Duration?
    @Option(help: "Close connections that send nothing for this long.") var reapAfter: Duration?
    @Flag(help: "Start muted: heartbeats are not answered (a server that stopped responding).") var mute = false
    @Flag(help: "Do not echo application messages.") var noEcho = false
    @Option(help: "Largest inbound frame in bytes.") var maxFrameSize: Int = HeartbeatServerConfiguration().maxFrameSize
    @Option(help: "Stop after this long (default: run until Ctrl-C).") var runFor: Duration?
    @Option(help: "Event output: jsonl or text.") var events: EventFormat = .text

    func makeConfiguration() throws -> HeartbeatServerConfiguration {
        let configuration = HeartbeatServerConfiguration(
            host: host, port: port,
            dialect: HeartbeatDialect.named(dialect, textPayload: textPayload, textReply: .some(textReply == "-" ? nil : textReply), pushInterval: pushInterval),
            pingInterval: pingInterval, reapAfter: reapAfter, echoMessages: !noEcho, maxFrameSize: maxFrameSize
        )
        do { try configuration.validate() } catch { throw error.validationError }
        return configuration
    }

    func validate() throws { _ = try makeConfiguration() }

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
        await waitUntilStopped(runFor: runFor)
        await server.stop()
        server.finishEvents()
    }
}
