import FaultProxy
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketSupport
import WireCapture

/// How a run is carried out and reported.
public struct RunOptions: Sendable {
    public var slack: Slack = .none
    /// Where run folders go (`<runs>/<scenario>/<timestamp>/recording.jsonl`); nil writes none.
    public var runsDirectory: String? = ".flatline/runs"
    /// Show every event, not only the important ones.
    public var verbose = false
    /// Show nothing while running.
    public var quiet = false
    /// Count checks that could not be judged (no capture, no source of their events) as failures.
    public var strict = false
    /// Capture the wire (libpcap) for every scenario, not only those with `capture: true`.
    public var capture = false
    /// The `flatline` executable, for scenarios that run the server as a child process.
    public var flatlineExecutable: String?
    /// Receives console lines as they happen.
    public var console: @Sendable (String) -> Void = { print($0) }

    public init() {}
}

/// The outcome of one scenario run.
public struct ScenarioResult: Sendable {
    public var scenario: Scenario
    public var verdicts: [Verdict]
    /// A setup problem (port, process…) that kept the scenario from running properly.
    public var setupError: String?
    public var duration: Duration
    public var recordingPath: String?
    /// The console timeline of this run (for JUnit's system-out).
    public var timeline: [String]

    public var passed: Bool { setupError == nil && !verdicts.contains(where: \.failed) }

    /// Checks that could not be judged (they count as passed unless the run is strict).
    public var notJudged: Int { verdicts.filter { $0.outcome == .notJudged }.count }

    public init(
        scenario: Scenario, verdicts: [Verdict], setupError: String?, duration: Duration, recordingPath: String?, timeline: [String]
    ) {
        self.scenario = scenario
        self.verdicts = verdicts
        self.setupError = setupError
        self.duration = duration
        self.recordingPath = recordingPath
        self.timeline = timeline
    }

    /// The smallest margin of the checks that measured one.
    public var smallestMargin: Duration? { verdicts.compactMap(\.margin).min() }
}

/// Runs one scenario live: starts the server, the proxy and the clients on loopback with
/// ephemeral ports, walks the timeline in real time, records every event and judges the run.
public final class ScenarioRunner: Sendable {
    public let scenario: Scenario
    public let options: RunOptions

    public init(scenario: Scenario, options: RunOptions) {
        self.scenario = scenario
        self.options = options
    }

    /// Events shown when not verbose.
    static let highlighted: Set<String> = [
        "client connected", "client disconnected", "client reconnect-scheduled", "client gave-up", "client closed",
        "client protocol-error", "client exited", "server reaped", "server stopped", "server killed", "server frozen",
        "server resumed", "server muted", "proxy fault-on", "proxy fault-off", "proxy conn-closed", "proxy closed-by-proxy",
        "proxy upstream-failed", "wire fin", "wire rst",
    ]

    public func run() async -> ScenarioResult {
        let started = ContinuousClock.now
        let origin = Instant.now
        let log = EventLog(origin: origin)
        let timeline = NIOLockedValueBox<[String]>([])
        let options = self.options
        let scenario = self.scenario
        let say: @Sendable (String) -> Void = { line in
            timeline.withLockedValue { $0.append(line) }
            if !options.quiet { options.console(line) }
        }
        log.onRecord { event in
            let key = "\(event.source) \(event.type)"
            guard options.verbose || Self.highlighted.contains(key) || (event.source == "runner" && event.type == "step") else { return }
            let line = event.source == "runner" && event.type == "step" ? Self.describeStep(event) : "    " + event.humanLine
            timeline.withLockedValue { $0.append(line) }
            if !options.quiet { options.console(line) }
        }
        say("▶ \(scenario.name)  (\(scenario.file))")
        if !scenario.summary.isEmpty, options.verbose { say("  \(scenario.summary)") }

        // The run folder exists from the start: the capture is written into it.
        let folder = options.runsDirectory.map { Self.runFolder(scenario: scenario, directory: $0) }
        var world: World?
        var setupError: String?
        var capture: WireRecorder?
        do {
            let started = try await World.start(scenario, log: log, executable: options.flatlineExecutable)
            world = started
            if scenario.capture || options.capture {
                let path = folder.map { "\($0)/capture.pcap" }
                do {
                    capture = try await WireRecorder.start(log: log, proxyPort: started.proxy.port, serverPort: started.serverPort, path: path)
                    log.record(RunnerEventType.capture, fields: ["status": "started", "path": .string(path ?? "")])
                } catch {
                    log.record(RunnerEventType.capture, fields: ["status": "skipped", "reason": .string("\(error)")])
                    say("  ⚠ capture skipped: \(error)")
                }
            }
            try started.startClients()
        } catch {
            setupError = "\(error)"
        }

        if let world {
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await self.walk(world: world, log: log, say: say)
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: scenario.timeLimit)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !finished { setupError = "the scenario did not finish within its time limit of \(scenario.timeLimit.flatlineDescription)" }
            log.record(RunnerEventType.teardown)
            await world.stop()
        }
        await capture?.stop()

        let events = log.events
        let verdicts = setupError == nil ? Judge.judge(scenario, events: events, slack: options.slack, strict: options.strict) : []
        for verdict in verdicts { say("  " + verdict.line) }
        if let setupError { say("  ✗ setup: \(setupError)") }
        var recordingPath: String?
        if let folder {
            recordingPath = Self.write(scenario: scenario, events: events, verdicts: verdicts, world: world, folder: folder)
        }
        return ScenarioResult(
            scenario: scenario, verdicts: verdicts, setupError: setupError,
            duration: ContinuousClock.now - started, recordingPath: recordingPath,
            timeline: timeline.withLockedValue { $0 }
        )
    }

    static func describeStep(_ event: EventRecord) -> String {
        let label = event.fields["label"]?.stringValue ?? ""
        let index = event.fields["index"]?.intValue ?? 0
        let failed = event.fields["ok"] == false
        let error = event.fields["error"]?.stringValue.map { ": \($0)" } ?? ""
        let seconds = Double(event.t.nanoseconds) / 1e9
        return String(format: seconds, decimals: 3).leftPadded(8) + "s ⏵ step \(index): \(label)" + (failed ? " — FAILED\(error)" : "")
    }

    /// Walks the timeline. Times are relative to the run's start; every check's reference comes
    /// from ``TimelineRule``, the same rule the judge measures with.
    private func walk(world: World, log: EventLog, say: @escaping @Sendable (String) -> Void) async {
        let env = scenario.environment
        let timeline = scenario.timeline
        // A check that cannot be judged for want of a capture is not waited for: it must not move
        // the timeline. (Whether an external client reports events is known only at the end.)
        let unobservable = Evidence(wireMissing: Evidence(scenario: scenario, events: log.events).wireMissing)
        var stepTimes: [Int: Duration] = [:]
        var lastDeadline = Duration.zero
        var pending: [(EventPattern, Duration, Duration)] = []
        /// Expectations since the last action that are not decided yet, and windows still open.
        var undecided: [(EventPattern, Duration, Duration)] = []
        var windowEnd = Duration.zero
        func settle() async {
            // A step written after expectations runs once they are decided (seen, or out of time).
            for (pattern, from, deadline) in undecided { _ = await log.wait(for: pattern, from: from, until: deadline) }
            undecided.removeAll()
            await sleep(until: windowEnd, log: log)
        }
        func recordStep(_ step: Step, at time: Duration, _ extra: JSONObject = [:]) -> Duration {
            var fields: JSONObject = ["index": .int(Int64(step.index)), "label": .string(step.label)]
            for (key, value) in extra { fields[key] = value }
            return log.record(EventRecord(t: time, RunnerEventType.step, fields: fields)).t
        }
        for step in timeline {
            if Task.isCancelled { return }
            let reference = TimelineRule.reference(of: step, in: timeline, stepTimes: stepTimes) ?? log.now
            switch step.kind {
            case .action(let at, let action):
                var target = reference
                switch at {
                case .absolute(let time)?: target = time
                case .relative(let delta)?: target = reference + delta
                case nil: await settle()
                }
                await sleep(until: target, log: log)
                // The step's time is when it began: what it causes comes after it.
                let began = log.now
                var failure: JSONObject = [:]
                do {
                    try await world.perform(action)
                } catch {
                    failure = ["ok": false, "error": .string("\(error)")]
                }
                stepTimes[step.index] = recordStep(step, at: began, failure)
            case .wait(let expression):
                await sleep(until: reference + ((try? expression.duration(env)) ?? .zero), log: log)
                stepTimes[step.index] = recordStep(step, at: log.now)
            case .after(let pattern, let within):
                let deadline = reference + ((try? within.duration(env)) ?? .seconds(30))
                guard let event = await log.wait(for: pattern, from: reference, until: deadline) else {
                    _ = recordStep(step, at: log.now, ["ok": false, "error": .string("\(pattern) did not happen")])
                    return
                }
                stepTimes[step.index] = recordStep(step, at: event.t)
            case .expect(let pattern, let within, _):
                guard unobservable.missing(for: pattern) == nil else { continue }
                let entry = (pattern, reference, reference + options.slack.widen((try? within.duration(env)) ?? .zero))
                pending.append(entry)
                undecided.append(entry)
            case .expectNone(let pattern, let window):
                guard unobservable.missing(for: pattern) == nil else { continue }
                if case .duration(let expression) = window {
                    let end = reference + ((try? expression.duration(env)) ?? .zero)
                    lastDeadline = max(lastDeadline, end)
                    windowEnd = max(windowEnd, end)
                }
            }
        }
        // Let every expectation be decided before judging: an expected event ends its wait early,
        // an expect-none window has to run its course.
        for (pattern, from, deadline) in pending {
            _ = await log.wait(for: pattern, from: from, until: deadline)
        }
        let last = stepTimes.values.max() ?? .zero
        await sleep(until: max(lastDeadline, last) + .milliseconds(20), log: log)
    }

    private func sleep(until target: Duration, log: EventLog) async {
        let remaining = target - log.now
        if remaining > .zero { try? await Task.sleep(for: remaining) }
    }

    static func runFolder(scenario: Scenario, directory: String) -> String {
        let safeName = String(scenario.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        let folder = "\(directory)/\(safeName)/\(Self.timestamp())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    static func write(scenario: Scenario, events: [EventRecord], verdicts: [Verdict], world: World?, folder: String) -> String? {
        do {
            let recording = Recording(
                scenarioFile: scenario.file, scenarioText: scenario.text, configuration: Self.configuration(scenario, world: world),
                events: events, verdicts: verdicts
            )
            let path = "\(folder)/recording.jsonl"
            try recording.write(to: path)
            return path
        } catch {
            return nil
        }
    }

    private static let sequence = NIOLockedValueBox(0)

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss-SSS"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let n = sequence.withLockedValue {
            $0 += 1
            return $0
        }
        return "\(formatter.string(from: Date()))-\(getpid())-\(n)"
    }

    static func configuration(_ scenario: Scenario, world: World?) -> JSONObject {
        var object: JSONObject = ["name": .string(scenario.name), "seed": .int(Int64(scenario.seed))]
        var settings = JSONObject()
        for (key, value) in scenario.environment.sorted(by: { $0.key < $1.key }) {
            switch value {
            case .duration(let d): settings[key] = .string(d.flatlineDescription)
            case .number(let n): settings[key] = .double(n)
            }
        }
        object["settings"] = .object(settings)
        if let world {
            object["server_port"] = .int(Int64(world.serverPort))
            object["proxy_port"] = .int(Int64(world.proxy.port))
        }
        return object
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// The running system of one scenario: server, proxy, clients.
final class World: Sendable {
    let server: any ScenarioServer
    let serverPort: Int
    let proxy: FaultProxy
    let clients: [HeartbeatClient]
    private let childrenBox = NIOLockedValueBox<[ChildProcess]>([])
    private let spawn: @Sendable () throws -> [ChildProcess]
    var children: [ChildProcess] { childrenBox.withLockedValue { $0 } }

    private init(server: any ScenarioServer, serverPort: Int, proxy: FaultProxy, clients: [HeartbeatClient], spawn: @escaping @Sendable () throws -> [ChildProcess]) {
        self.server = server
        self.serverPort = serverPort
        self.proxy = proxy
        self.clients = clients
        self.spawn = spawn
    }

    /// Starts the clients (after the capture, so that their handshakes are on the wire too).
    func startClients() throws {
        for client in clients { client.start() }
        let started = try spawn()
        childrenBox.withLockedValue { $0 = started }
    }

    static func start(_ scenario: Scenario, log: EventLog, executable: String?) async throws -> World {
        let server: any ScenarioServer
        if scenario.serverProcess {
            guard let executable else {
                throw ChildError("this scenario runs the server as a process (server: {process: true}); that needs the flatline executable — run it with 'flatline run'")
            }
            server = ProcessServer(executable: executable, configuration: scenario.server, log: log)
        } else {
            server = try InProcessServer(configuration: scenario.server, log: log)
        }
        let serverPort: Int
        do {
            serverPort = try await server.start()
        } catch {
            throw ChildError("cannot start the server: \(error)")
        }
        let hub = EventHub<ProxyEvent>()
        hub.onEvent { event in
            var fields = event.fields
            fields["proxy"] = nil
            log.record(EventRecord(t: event.at - log.origin, event.kind, fields: fields))
        }
        let proxy: FaultProxy
        do {
            proxy = try await FaultProxy.start(
                name: scenario.name, upstream: HostPort(host: "127.0.0.1", port: serverPort),
                observeFrames: scenario.observeFrames, seed: scenario.seed, hub: hub
            )
        } catch {
            await server.stop()
            throw ChildError("cannot start the proxy: \(error)")
        }
        let url = WebSocketURL(host: "127.0.0.1", port: proxy.port, path: scenario.serverPath)
        var clients: [HeartbeatClient] = []
        var spawn: @Sendable () throws -> [ChildProcess] = { [] }
        switch scenario.client {
        case .builtin(var configuration, let count):
            configuration.url = url
            for index in 1...count {
                configuration.randomSeed = scenario.seed &+ UInt64(index)
                let tag: JSONValue? = count > 1 ? .int(Int64(index)) : nil
                let client = try HeartbeatClient(configuration: configuration) { event in
                    var fields = event.fields
                    if let tag { fields["client"] = tag }
                    log.record(EventRecord(t: event.at - log.origin, event.catalogType, fields: fields))
                }
                clients.append(client)
            }
        case .external(let command, let count, _, _):
            spawn = {
            var children: [ChildProcess] = []
            for index in 1...count {
                let arguments = CommandTemplate.expand(command, url: url.description, host: "127.0.0.1", port: proxy.port, environment: scenario.environment)
                let tag: JSONValue? = count > 1 ? .int(Int64(index)) : nil
                do {
                    let child = try ChildProcess(
                        arguments: arguments,
                        environment: ["FLATLINE_URL": url.description, "FLATLINE_CLIENT": String(index)],
                        onLine: { line in World.externalLine(line, tag: tag, log: log) },
                        onExit: { code in
                            var fields: JSONObject = ["code": .int(Int64(code))]
                            if let tag { fields["client"] = tag }
                            log.record(ClientEventType.exited, fields: fields)
                        }
                    )
                    children.append(child)
                } catch {
                    for child in children { child.signal(SIGKILL) }
                    throw error
                }
            }
            return children
            }
        }
        return World(server: server, serverPort: serverPort, proxy: proxy, clients: clients, spawn: spawn)
    }

    /// A line printed by an external client: an event in the schema, or plain output.
    static func externalLine(_ line: String, tag: JSONValue?, log: EventLog) {
        let at = Instant.now
        if let value = try? JSONValue(parsing: line), let object = value.objectValue, let type = object["type"]?.stringValue {
            var fields = JSONObject()
            for (key, value) in object where !["t", "src", "type"].contains(key) { fields[key] = value }
            if let t = object["t"] { fields["client_t"] = t }
            if let tag { fields["client"] = tag }
            log.record(EventRecord(t: at - log.origin, source: "client", type: type, fields: fields))
        } else if !line.isEmpty {
            var fields: JSONObject = ["line": .string(line)]
            if let tag { fields["client"] = tag }
            log.record(EventRecord(t: at - log.origin, ClientEventType.output, fields: fields))
        }
    }

    func perform(_ action: Step.Action) async throws {
        switch action {
        case .addFault(let fault): try await proxy.add(fault)
        case .removeFault(let name): try await proxy.remove(name)
        case .heal: await proxy.heal()
        case .server(let action):
            switch action {
            case .stop: await server.stop()
            case .kill: await server.kill()
            case .freeze: await server.freeze()
            case .resume: await server.resume()
            case .start: _ = try await server.start()
            case .mute: server.setMuted(true)
            case .unmute: server.setMuted(false)
            }
        case .clientSend(let text):
            for client in clients { _ = client.send(text: text) }
        case .clientClose:
            for client in clients { client.close() }
            for child in children { child.signal(SIGINT) }
        }
    }

    func stop() async {
        // A client closes within its close grace; teardown is bounded all the same.
        for client in clients {
            _ = await finishesWithin(.seconds(2)) { done in client.close().whenComplete { _ in done() } }
        }
        for child in children { await child.stop() }
        // Teardown is bounded: a component that does not finish is left behind, not waited on forever.
        _ = await finishesWithin(.seconds(5)) { done in Task { await self.proxy.stop(); done() } }
        _ = await finishesWithin(.seconds(5)) { done in Task { await self.server.finish(); done() } }
    }
}

/// Captures the scenario's traffic (both legs) into a pcap file and feeds `wire` events into the log.
final class WireRecorder: Sendable {
    private let capture: LiveCapture

    init(log: EventLog, proxyPort: Int, serverPort: Int, path: String?) throws {
        // Packet times are wall-clock; the log counts from the run's monotonic start.
        let originWallMicros = WireRecorder.wallMicros() - (log.now.nanoseconds / 1000)
        let analyzer = NIOLockedValueBox<WireAnalyzer?>(nil)
        let roles = WireAnalyzer.Roles(proxyPort: proxyPort, serverPort: serverPort)
        var linkType: Int32 = PacketDecoder.ethernet
        capture = try LiveCapture(filter: "tcp port \(proxyPort) or tcp port \(serverPort)", path: path) { packet in
            let events = analyzer.withLockedValue { $0?.feed(packet) } ?? []
            for event in events {
                log.record(EventRecord(t: .microseconds(event.timestampMicros - originWallMicros), event.kind, fields: event.fields))
            }
        }
        linkType = capture.linkType
        analyzer.withLockedValue { $0 = WireAnalyzer(linkType: linkType, roles: roles) }
    }

    /// libpcap's activate and the capture's stop block: they run off Swift's cooperative pool
    /// (two threads here), so that other scenarios' timelines are never held up by them.
    static func start(log: EventLog, proxyPort: Int, serverPort: Int, path: String?) async throws -> WireRecorder {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try WireRecorder(log: log, proxyPort: proxyPort, serverPort: serverPort, path: path) })
            }
        }
    }

    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.capture.stop()
                continuation.resume()
            }
        }
    }

    static func wallMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
