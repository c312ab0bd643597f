import ScenarioModel
import Foundation
import EventSchema
import FaultProxy
import FaultModel
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
    /// Why the clients did not meet the scenario's server, found after the fact (a server process
    /// that ended by itself), or nil.
    var failure: String? { get }
}

extension ScenarioServer {
    var failure: String? { nil }
}

/// A server running as a child process: freezing and resuming it are SIGSTOP and SIGCONT to its
/// process group.
protocol ChildProcessServer: ScenarioServer {
    var current: ChildProcess? { get }
    var log: EventLog { get }
    var exits: ServerExits { get }
}

extension ChildProcessServer {
    var failure: String? { exits.failure }

    func freeze() async {
        current?.signal(SIGSTOP)
        log.record(ServerEventType.frozen)
    }

    func resume() async {
        current?.signal(SIGCONT)
        log.record(ServerEventType.resumed)
    }
}

/// The built-in server in this process; kill resets every connection (SO_LINGER 0) and freeze
/// stops reading and answering, which is what a crash and a SIGSTOP look like from outside.
final class InProcessServer: ScenarioServer {
    let server: HeartbeatServer

    init(configuration: HeartbeatServerConfiguration, log: EventLog) throws {
        server = try HeartbeatServer(configuration: configuration) { event in
            log.record(EventRecord(t: event.at - log.origin, event.type, fields: event.fields))
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
final class ProcessServer: ChildProcessServer {
    private let executable: String
    private let configuration: HeartbeatServerConfiguration
    let log: EventLog
    let exits = ServerExits()
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
        let log = self.log, exits = self.exits
        let from = log.now
        exits.starting()
        let process = try ChildProcess(
            arguments: arguments + ["--port", String(port.withLockedValue { $0 } ?? configuration.port)],
            environment: [:],
            onLine: { line in
                if let event = EventRecord(printedBy: .server, line: line, at: log.now) { log.record(event) }
            },
            onExit: { code in
                log.record(ServerEventType.exited, fields: ["code": .int(Int64(code))])
                exits.exited(code, at: log.now, lastLines: [])
            }
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

    var current: ChildProcess? { child.withLockedValue { $0 } }

    func stop() async {
        guard let process = current else { return }
        exits.expect()
        process.signal(SIGCONT)  // a frozen server must be able to hear SIGTERM
        await process.stop()
    }

    func kill() async {
        guard let process = current else { return }
        exits.expect()
        await process.stop(grace: .zero)
    }


    func setMuted(_ muted: Bool) { current?.signal(muted ? SIGUSR1 : SIGUSR2) }

    func finish() async { await stop() }
}

/// A server of the user's own, started by Flatline from a command in its own process group, on a
/// free port Flatline picks (`{port}` in the command, `$PORT` in its environment). Its stdout lines
/// become `server output` events (JSON lines in the schema become `server` events); kill, freeze,
/// resume, stop and start are real signals and a restart on the same port.
final class CommandServer: ChildProcessServer {
    private let command: [String]
    private let ready: ExternalServer.Readiness
    private let environment: [String: String]
    private let directory: String?
    private let settings: [String: DurationExpression.Value]
    private let claims: PortClaims
    let log: EventLog
    let exits = ServerExits()
    private let state = NIOLockedValueBox<(child: ChildProcess?, port: Int?, readyLine: Bool, recent: [String])>((nil, nil, false, []))

    /// How long it may take to become ready.
    private let readiness: Duration

    init(
        command: [String], ready: ExternalServer.Readiness, readyWithin: Duration, environment: [String: String], directory: String?,
        settings: [String: DurationExpression.Value], claims: PortClaims, log: EventLog
    ) {
        self.claims = claims
        self.command = command
        self.ready = ready
        self.readiness = readyWithin
        self.environment = environment
        self.directory = directory
        self.settings = settings
        self.log = log
    }

    func start() async throws -> Int {
        let port = try state.withLockedValue { $0.port } ?? claims.take()
        let arguments = CommandTemplate.expand(command, url: "ws://127.0.0.1:\(port)/", host: "127.0.0.1", port: port, environment: settings)
        state.withLockedValue { $0 = ($0.child, port, false, []) }
        let log = self.log, state = self.state, exits = self.exits
        exits.starting()
        let pattern: String? = if case .line(let text) = ready { text } else { nil }
        let child = try ChildProcess(
            arguments: arguments, environment: environment.merging(["PORT": String(port)]) { given, _ in given }, directory: directory,
            onLine: { line in
                let matched = pattern.flatMap { try? Regex($0) }.flatMap { try? $0.firstMatch(in: line) } != nil
                state.withLockedValue { state in
                    if matched { state.readyLine = true }
                    state.recent = Array((state.recent + [line]).suffix(5))
                }
                if let event = EventRecord(printedBy: .server, line: line, at: log.now, requireSource: true) {
                    log.record(event)
                } else if !line.isEmpty {
                    log.record(ServerEventType.output, fields: ["line": .string(String(line.prefix(4096)))])
                }
            },
            onExit: { code in
                log.record(ServerEventType.exited, fields: ["code": .int(Int64(code))])
                exits.exited(code, at: log.now, lastLines: state.withLockedValue { $0.recent })
            }
        )
        state.withLockedValue { $0.child = child }
        let deadline = ContinuousClock.now + readiness
        while ContinuousClock.now < deadline {
            if let code = child.exitCode {
                throw ChildError("the server '\(arguments.joined(separator: " "))' exited with \(code) before it was ready\(seen)")
            }
            let isReady: Bool = switch ready {
            case .port: Self.accepts(port)
            case .line: state.withLockedValue { $0.readyLine }
            }
            if isReady { return port }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await child.stop(grace: .milliseconds(500))
        let what = if case .line(let text) = ready { "printed no line matching /\(text)/" } else { "did not accept connections on port \(port)" }
        throw ChildError("the server '\(arguments.joined(separator: " "))' \(what) within \(readiness.flatlineDescription)\(seen)")
    }

    /// Its last lines, for a setup error.
    private var seen: String {
        let recent = state.withLockedValue { $0.recent }
        return recent.isEmpty ? "; it printed nothing" : "; its last lines: " + recent.joined(separator: " | ")
    }

    var current: ChildProcess? { state.withLockedValue { $0.child } }

    func stop() async {
        guard let child = current else { return }
        exits.expect()
        child.signal(SIGCONT)
        await child.stop()
        log.record(ServerEventType.stopped)
    }

    func kill() async {
        exits.expect()
        await current?.stop(grace: .zero)
        log.record(ServerEventType.killed)
    }


    func setMuted(_ muted: Bool) {}  // refused at validation

    func finish() async {
        exits.expect()
        guard let child = current, child.exitCode == nil else { return }
        child.signal(SIGCONT)
        await child.stop()
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A server already running somewhere Flatline can reach: it only puts the proxy in front of it.
final class UpstreamServer: ScenarioServer {
    let address: HostPort

    init(address: HostPort) { self.address = address }

    func start() async throws -> Int {
        guard address.port > 0 else { throw ChildError("the upstream \(address) has no port") }
        return address.port
    }
    func stop() async {}
    func kill() async {}
    func freeze() async {}
    func resume() async {}
    func setMuted(_ muted: Bool) {}
    func finish() async {}
}

/// Whether a server process ended by itself. A nonzero exit no step asked for — a `{port}` server
/// that could not bind its port (another program took it first; meanwhile that program answered
/// the readiness check), a crash — means the clients met something else than the scenario's
/// server: the run is not judged. An exit with 0 is left alone (a launcher may hand over to a
/// daemon and end).
final class ServerExits: Sendable {
    private let state = NIOLockedValueBox((expected: false, failure: String?.none))

    /// A (re)start: from now on an exit is the server's own doing.
    func starting() { state.withLockedValue { $0.expected = false } }

    /// A step or the teardown is about to end the server.
    func expect() { state.withLockedValue { $0.expected = true } }

    func exited(_ code: Int32, at t: Duration, lastLines: [String]) {
        state.withLockedValue { state in
            guard !state.expected, code != 0, state.failure == nil else { return }
            let seen = lastLines.isEmpty ? "" : "; its last lines: " + lastLines.joined(separator: " | ")
            state.failure = "the server exited with code \(code) at \(t.flatlineDescription) and no step stopped it\(seen)"
                + " — the clients did not meet the scenario's server from then on, so nothing is judged"
        }
    }

    /// The first exit that was not asked for, said for a setup error.
    var failure: String? { state.withLockedValue { $0.failure } }
}
