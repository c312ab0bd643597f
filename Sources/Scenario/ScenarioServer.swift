import Foundation
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The server of a scenario: the built-in one in this process, or as a child process
/// (`server: {process: true}`), where kill, freeze and resume are real SIGKILL, SIGSTOP and SIGCONT.
protocol ScenarioServer: Sendable {
    /// Starts (again, on the same port) and returns the port.
    func start() async throws -> Int
    func stop() async
    func kill() async
    func freeze() async
    func resume() async
    func setMuted(_ muted: Bool)
    func finish() async
}

/// The built-in server in this process; kill resets every connection (SO_LINGER 0) and freeze
/// stops reading and answering, which is what a crash and a SIGSTOP look like from outside.
final class InProcessServer: ScenarioServer {
    let server: HeartbeatServer

    init(configuration: HeartbeatServerConfiguration, log: EventLog) throws {
        server = try HeartbeatServer(configuration: configuration) { event in
            log.record(EventRecord(t: event.at - log.origin, event.catalogType, fields: event.fields))
        }
    }

    func start() async throws -> Int { try await server.start() }
    func stop() async { await server.stop() }
    func kill() async { await server.kill() }
    func freeze() async { await server.freeze() }
    func resume() async { await server.resume() }
    func setMuted(_ muted: Bool) { server.setMuted(muted) }

    func finish() async {
        await server.stop()
        server.finishEvents()
    }
}

/// `flatline server` as a child process in its own process group. Its JSON event lines become
/// `server` events; SIGUSR1/SIGUSR2 mute and unmute it.
final class ProcessServer: ScenarioServer {
    private let executable: String
    private let configuration: HeartbeatServerConfiguration
    private let log: EventLog
    private let child = NIOLockedValueBox<ChildProcess?>(nil)
    private let port = NIOLockedValueBox<Int?>(nil)

    init(executable: String, configuration: HeartbeatServerConfiguration, log: EventLog) {
        self.executable = executable
        self.configuration = configuration
        self.log = log
    }

    var arguments: [String] {
        var arguments = [executable, "server", "--host", configuration.host, "--events", "jsonl", "--dialect", configuration.dialect.name]
        switch configuration.dialect {
        case .text(let payload, let reply):
            arguments += ["--text-payload", payload, "--text-reply", reply ?? "-"]
        case .serverPush(let interval, _):
            arguments += ["--push-interval", interval.flatlineDescription]
        case .json, .ping:
            break
        }
        if let ping = configuration.pingInterval { arguments += ["--ping-interval", ping.flatlineDescription] }
        if let reap = configuration.reapAfter { arguments += ["--reap-after", reap.flatlineDescription] }
        if !configuration.echoMessages { arguments.append("--no-echo") }
        arguments += ["--max-frame-size", String(configuration.maxFrameSize)]
        return arguments
    }

    func start() async throws -> Int {
        let log = self.log
        let from = log.now
        let process = try ChildProcess(
            arguments: arguments + ["--port", String(port.withLockedValue { $0 } ?? configuration.port)],
            environment: [:],
            onLine: { line in
                guard let object = (try? JSONValue(parsing: line))?.objectValue, let type = object["type"]?.stringValue else { return }
                var fields = JSONObject()
                for (key, value) in object where !["t", "src", "type"].contains(key) { fields[key] = value }
                if let t = object["t"] { fields["server_t"] = t }
                log.record(EventRecord(t: log.now, source: "server", type: type, fields: fields))
            },
            onExit: { code in log.record(ServerEventType.exited, fields: ["code": .int(Int64(code))]) }
        )
        child.withLockedValue { $0 = process }
        let listening = EventPattern(ServerEventType.listening)
        guard let event = await log.wait(for: listening, from: from, until: log.now + .seconds(10)),
            let bound = event.fields["port"]?.intValue
        else {
            await process.stop(grace: .zero)
            throw ChildError("the server process did not report listening within 10s (\(arguments.joined(separator: " ")))")
        }
        port.withLockedValue { $0 = Int(bound) }
        return Int(bound)
    }

    private var current: ChildProcess? { child.withLockedValue { $0 } }

    func stop() async {
        guard let process = current else { return }
        process.signal(SIGCONT)  // a frozen server must be able to hear SIGTERM
        await process.stop()
    }

    func kill() async {
        guard let process = current else { return }
        await process.stop(grace: .zero)
    }

    func freeze() async {
        current?.signal(SIGSTOP)
        log.record(ServerEventType.frozen)
    }

    func resume() async {
        current?.signal(SIGCONT)
        log.record(ServerEventType.resumed)
    }

    func setMuted(_ muted: Bool) { current?.signal(muted ? SIGUSR1 : SIGUSR2) }

    func finish() async { await stop() }
}
