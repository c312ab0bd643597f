import ScenarioModel
import FaultProxy
import FaultModel
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport
import WireCapture

/// The running system of one scenario: server, proxy, clients.
final class World: Sendable {
    let server: any ScenarioServer
    let serverPort: Int
    /// One listener per external client (every connection the proxy sees belongs to one client);
    /// one for the built-in clients.
    let proxies: [FaultProxy]
    var proxy: FaultProxy { proxies[0] }
    let clients: [HeartbeatClient]
    /// Packet mode: the nftables rules that carry out the faults (the proxy only observes them).
    let packets: PacketFilter?
    /// Faults on in the packet filter, in the order they were added.
    private let packetFaults = NIOLockedValueBox<[Fault]>([])
    private let childrenBox = NIOLockedValueBox<[ChildProcess]>([])
    /// Browser profiles made for this run, removed when it ends.
    private let profiles: NIOLockedValueBox<[String]>
    /// Each browser client's DevTools pipe, when the timeline needs one (`client: offline`).
    private let devTools: NIOLockedValueBox<[DevTools]>
    /// The external clients: how many, and how to start client `index` (1-based); nil for built-in clients.
    private let spawn: (count: Int, start: @Sendable (Int) throws -> ChildProcess)?
    private let ramp: Duration
    /// Set at teardown: clients of a ramp not started by then never start.
    private let stopping = NIOLockedValueBox(false)
    /// Whether the clients are frozen (`client: freeze`): teardown lets them go on first.
    private let frozen = NIOLockedValueBox(false)
    private let log: EventLog
    /// Each observed client's observer, by the port of its proxy listener.
    private let observers: [Int: ClientObserver]
    /// Its ports, held from before they were bound until the end of its teardown.
    private let claims: PortClaims
    var children: [ChildProcess] { childrenBox.withLockedValue { $0 } }

    private init(
        server: any ScenarioServer, serverPort: Int, proxies: [FaultProxy], packets: PacketFilter?, clients: [HeartbeatClient],
        profiles: NIOLockedValueBox<[String]>, devTools: NIOLockedValueBox<[DevTools]>, spawn: (count: Int, start: @Sendable (Int) throws -> ChildProcess)?, ramp: Duration, log: EventLog,
        observers: [Int: ClientObserver], claims: PortClaims
    ) {
        self.claims = claims
        self.observers = observers
        self.profiles = profiles
        self.devTools = devTools
        self.server = server
        self.serverPort = serverPort
        self.proxies = proxies
        self.packets = packets
        self.clients = clients
        self.spawn = spawn
        self.ramp = ramp
        self.log = log
    }

    /// When client `index` (0-based) of `count` starts: evenly over the ramp.
    static func rampOffset(_ index: Int, of count: Int, ramp: Duration) -> Duration {
        count > 1 ? ramp * (Double(index) / Double(count)) : .zero
    }

    /// Starts the clients (after the capture, so that their handshakes are on the wire too), all
    /// at once or spread over the ramp. A command that cannot start at all is a setup error; one
    /// that fails later in a ramp is a client that never ran, named by the checks.
    func startClients() throws {
        for (index, client) in clients.enumerated() { client.start(after: Self.rampOffset(index, of: clients.count, ramp: ramp)) }
        guard let (count, spawn) = spawn else { return }
        let first = ramp > .zero ? 1 : count
        var started: [ChildProcess] = []
        do {
            for index in 1...first { started.append(try spawn(index)) }
        } catch {
            for child in started { child.signal(SIGKILL) }
            throw error
        }
        childrenBox.withLockedValue { $0 = started }
        guard first < count else { return }
        let origin = ContinuousClock.now, ramp = ramp
        Task { [self] in
            for index in (first + 1)...count {
                try? await Task.sleep(until: origin + Self.rampOffset(index - 1, of: count, ramp: ramp), clock: .continuous)
                let spawned: Result<ChildProcess, any Error> = stopping.withLockedValue { stopping in
                    if stopping { return .failure(CancellationError()) }
                    return Result { try spawn(index) }.map { child in childrenBox.withLockedValue { $0.append(child) }; return child }
                }
                if case .failure(let error) = spawned {
                    if error is CancellationError { return }
                    log.record(ClientEventType.output, fields: ["line": .string("flatline: could not start this client: \(error)"), "client": .int(Int64(index))])
                }
            }
        }
    }

    /// Descriptors of this process one client may hold at once, measured (3,300 built-in clients
    /// through a pulled cable peaked at 19,734): the proxy's two for its connection and, during an
    /// outage, one for a new attempt beside the old connection it still holds; a built-in client's
    /// own socket, and its old one until the close grace ends; the in-process server's one. An
    /// external client's sockets are not Flatline's, its listener and output pipe are.
    static func descriptors(for scenario: Scenario) -> Int {
        var count = 3
        if scenario.externalServer == nil, !scenario.serverProcess { count += 1 }
        switch scenario.client {
        case .external: count += 2
        case .builtin(let configuration, _): count += configuration.heartbeat.effectiveCloseGrace > .zero ? 2 : 1
        }
        return count
    }

    static func start(_ scenario: Scenario, log: EventLog, executable: String?) async throws -> World {
        let claims = PortClaims()
        do {
            return try await assemble(scenario, log: log, executable: executable, claims: claims)
        } catch {
            claims.releaseAll()
            throw error
        }
    }

    /// The world's ports are `claims`' (PortClaims): until its teardown has ended, no other
    /// scenario of this run is given one of them.
    private static func assemble(_ scenario: Scenario, log: EventLog, executable: String?, claims: PortClaims) async throws -> World {
        let devTools = NIOLockedValueBox<[DevTools]>([])
        let count = scenario.client.count
        let needed = count * descriptors(for: scenario) + 64
        let limit = OpenFiles.raise(wanting: needed)
        guard needed <= limit else {
            throw ChildError(
                "\(count) clients need about \(needed) open files (\(descriptors(for: scenario)) each at the worst moment of an outage, plus 64), "
                    + "and this process may open \(limit) (its hard limit, 'ulimit -Hn'; root may raise it): lower the count to \((limit - 64) / descriptors(for: scenario)), or need fewer each: a server of its own process (server: {process: true}) and, for built-in clients, no close grace (heartbeat: {close-grace: 0ms}) need 4"
            )
        }
        let server: any ScenarioServer
        var upstreamHost = "127.0.0.1"
        if case .command(let command, let ready, let within, let environment, let directory)? = scenario.externalServer {
            server = CommandServer(
                command: command, ready: ready, readyWithin: within, environment: environment, directory: directory, settings: scenario.environment,
                claims: claims, log: log
            )
        } else if case .upstream(let address)? = scenario.externalServer {
            server = UpstreamServer(address: address)
            upstreamHost = address.host
        } else {
            var configuration = scenario.server
            if configuration.port == 0 { configuration.port = try claims.take() }
            if scenario.serverProcess {
                guard let executable else {
                    throw ChildError("this scenario runs the server as a process (server: {process: true}); that needs the flatline executable — run it with 'flatline run'")
                }
                server = ProcessServer(executable: executable, configuration: configuration, log: log)
            } else {
                server = try InProcessServer(configuration: configuration, log: log)
            }
        }
        let serverPort: Int
        do {
            serverPort = try await server.start()
        } catch {
            throw ChildError("cannot start the server: \(error)")
        }
        // A listener per external client; the built-in clients share one (they report their own
        // events). Where each client has its own, its client events are also derived from what the
        // proxy sees (ClientObserver).
        let listeners: Int
        var observe = false
        switch scenario.client {
        case .external(_, let count, _, _): (listeners, observe) = (count, true)
        case .builtin(_, let count): (listeners, observe) = (1, count == 1)
        }
        if observe { log.record(RunnerEventType.observing, fields: ["clients": .int(Int64(listeners))]) }
        var proxies: [FaultProxy] = []
        var observers: [ClientObserver?] = []
        for index in 1...listeners {
            let tag: JSONValue? = listeners > 1 ? .int(Int64(index)) : nil
            let observer = observe ? ClientObserver(tag: tag, log: log, dialect: scenario.client.heartbeat.dialect, packetMode: scenario.network == .packet) : nil
            observers.append(observer)
            let hub = EventHub<ProxyEvent>()
            hub.onEvent { event in
                var fields = event.fields
                fields["proxy"] = nil
                if let tag { fields["client"] = tag }
                log.record(EventRecord(t: event.at - log.origin, event.type, fields: fields))
                observer?.observe(event)
            }
            do {
                proxies.append(try await FaultProxy.start(
                    name: scenario.name, listen: HostPort(host: "127.0.0.1", port: try claims.take()), upstream: HostPort(host: upstreamHost, port: serverPort),
                    observeFrames: scenario.observeFrames || observe, seed: scenario.seed &+ UInt64(index - 1), hub: hub
                ))
            } catch {
                for proxy in proxies { await proxy.stop() }
                await server.stop()
                throw ChildError("cannot start the proxy: \(error)")
            }
        }
        let proxy = proxies[0]
        let listenerProxies = proxies
        var packets: PacketFilter?
        if scenario.network == .packet {
            do {
                guard PacketNamespace.inside else {
                    throw ChildError("network: packet runs only inside the private network namespace that 'flatline run' creates")
                }
                packets = try PacketFilter.create(legs: PacketLegs(proxyPorts: proxies.map(\.port), serverPort: serverPort))
            } catch {
                for proxy in proxies { await proxy.stop() }
                await server.stop()
                throw error
            }
        }
        let started = (proxies, packets)
        /// What has started, stopped again: the world will not run.
        func abandon() async {
            _ = started.1?.stop()
            for proxy in started.0 { await proxy.stop() }
            await server.stop()
        }
        let url = WebSocketURL(host: "127.0.0.1", port: proxy.port, path: scenario.serverPath)
        var clients: [HeartbeatClient] = []
        let profiles = NIOLockedValueBox<[String]>([])
        var spawn: (count: Int, start: @Sendable (Int) throws -> ChildProcess)?
        switch scenario.client {
        case .builtin(var configuration, let count):
            configuration.url = url
            for index in 1...count {
                configuration.randomSeed = scenario.seed &+ UInt64(index)
                let tag: JSONValue? = count > 1 ? .int(Int64(index)) : nil
                let client: HeartbeatClient
                do {
                    client = try HeartbeatClient(configuration: configuration) { event in
                        var fields = event.fields
                        if let tag { fields["client"] = tag }
                        log.record(EventRecord(t: event.at - log.origin, event.type, fields: fields))
                    }
                } catch {
                    await abandon()
                    throw error
                }
                clients.append(client)
            }
        case .external(let command, let count, _, _):
            let browser = scenario.browser
            let needsDevTools = browser != nil && scenario.timeline.contains { step in
                if case .action(_, .clientOffline) = step.kind { true } else { false }
            }
            if needsDevTools, scenario.network == .packet, let problem = PacketNamespace.networkProblem {
                await abandon()
                throw ChildError("'client: offline' in packet mode needs a network besides loopback in the namespace, for Chromium to see itself online: \(problem)")
            }
            if let browser, !FileManager.default.fileExists(atPath: browser.page) {
                await abandon()
                throw ChildError("the browser page \(browser.page) does not exist (relative to \(FileManager.default.currentDirectoryPath))")
            }
            spawn = (count, { index in
                let port = listenerProxies[index - 1].port
                let url = WebSocketURL(host: "127.0.0.1", port: port, path: scenario.serverPath)
                var arguments = CommandTemplate.expand(command, url: url.description, host: "127.0.0.1", port: port, environment: scenario.environment)
                if browser != nil {
                    // A profile of its own per page (removed at the end), and no sandbox for root.
                    let profile = NSTemporaryDirectory() + "flatline-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(index)"
                    try? FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
                    profiles.withLockedValue { $0.append(profile) }
                    arguments.insert(contentsOf: ["--user-data-dir=\(profile)"] + (geteuid() == 0 ? ["--no-sandbox"] : []), at: 1)
                    if arguments.first == BrowserClient.program { arguments[0] = World.browserProgram }
                }
                let tag: JSONValue? = count > 1 ? .int(Int64(index)) : nil
                let tools = try needsDevTools ? DevTools() : nil
                if tools != nil { arguments.insert("--remote-debugging-pipe", at: 1) }
                // The browser's pipe ends are its own once it has started (or failed to).
                defer { tools?.browserStarted() }
                let child: ChildProcess
                do {
                    child = try ChildProcess(
                        arguments: arguments,
                        environment: ["FLATLINE_URL": url.description, "FLATLINE_CLIENT": String(index)],
                        standardError: browser != nil,
                        passing: tools?.browserEnds ?? [],
                        onLine: { [budget = OutputBudget()] line in
                            var line = line
                            if browser != nil {
                                // Chromium's log: only the page's console lines are the client's.
                                guard let message = BrowserClient.consoleMessage(line) else { return }
                                line = message.hasPrefix("Uncaught") ? "page error: \(message)" : message
                            }
                            guard let admitted = budget.admit(line) else { return }
                            if admitted { World.externalLine(line, tag: tag, log: log) } else {
                                var fields: JSONObject = ["lines_kept": .int(Int64(OutputBudget.maximumLines)), "bytes_kept": .int(Int64(budget.bytes))]
                                if let tag { fields["client"] = tag }
                                log.record(ClientEventType.outputTruncated, fields: fields)
                            }
                        },
                        onExit: { code in
                            var fields: JSONObject = ["code": .int(Int64(code))]
                            if let tag { fields["client"] = tag }
                            log.record(ClientEventType.exited, fields: fields)
                        }
                    )
                } catch {
                    tools?.shutDown()
                    throw error
                }
                if let tools { devTools.withLockedValue { $0.append(tools) } }
                return child
            })
        }
        return World(
            server: server, serverPort: serverPort, proxies: proxies, packets: packets, clients: clients, profiles: profiles, devTools: devTools, spawn: spawn,
            ramp: scenario.clientRamp, log: log,
            observers: Dictionary(uniqueKeysWithValues: zip(proxies.map(\.port), observers).compactMap { port, observer in observer.map { (port, $0) } }),
            claims: claims
        )
    }

    /// Packet mode: a wire event on a client leg, seen on the client's side of the cable, goes to
    /// that client's observer (what the client sends reaches the proxy only once the fault is gone).
    func observeWire(_ event: WireEvent, at t: Duration) {
        guard let observer = observers[event.destinationPort] else { return }
        observer.observeWire(event.kind, clientPort: event.sourcePort, opcode: event.fields["opcode"]?.stringValue, at: t)
    }

    /// The browser programs tried for a `browser:` client, in order: the first one installed.
    static let browserPrograms = ["chromium", "chromium-browser", "google-chrome"]
    static let browserProgram = browserPrograms.first { ChildProcess.resolve($0) != nil } ?? "chromium"

    /// A line printed by an external client: an event in the schema, or plain output.
    static func externalLine(_ line: String, tag: JSONValue?, log: EventLog) {
        let at = Instant.now
        if var event = EventRecord(printedBy: .client, line: line, at: at - log.origin) {
            if let tag { event.fields["client"] = tag }
            log.record(event)
        } else if !line.isEmpty {
            var fields: JSONObject = ["line": .string(line)]
            if let tag { fields["client"] = tag }
            log.record(EventRecord(t: at - log.origin, ClientEventType.output, fields: fields))
        }
    }

    func perform(_ action: Step.Action) async throws {
        switch action {
        case .addFault(let fault):
            if let packets, PacketForm.of(fault) == .success(.rules) {
                try packets.add(fault)
                packetFaults.withLockedValue { $0.append(fault) }
                for proxy in proxies { proxy.announce(fault, enforcedBy: "nftables") }
            } else {
                for proxy in proxies { try await proxy.add(fault) }
            }
        case .removeFault(let name):
            if let packets, let fault = packetFaults.withLockedValue({ faults in faults.firstIndex { $0.name == name }.map { faults.remove(at: $0) } }) {
                try packets.remove(fault)
                for proxy in proxies { proxy.retract(name, enforcedBy: "nftables") }
            } else {
                for proxy in proxies { try await proxy.remove(name) }
            }
        case .heal:
            if let packets {
                for fault in packetFaults.withLockedValue({ faults in defer { faults.removeAll() }; return faults }).reversed() {
                    try packets.remove(fault)
                    for proxy in proxies { proxy.retract(fault.name, enforcedBy: "nftables") }
                }
            }
            for proxy in proxies { await proxy.heal() }
        case .server(let action):
            // While the server is down its host refuses new connections: so does each listener
            // (in packet mode too), as the refuse fault does — never an accept and then a close.
            switch action {
            case .stop:
                for proxy in proxies { try await proxy.setServerDown(true) }
                await server.stop()
            case .kill:
                for proxy in proxies { try await proxy.setServerDown(true) }
                await server.kill()
            case .freeze: await server.freeze()
            case .resume: await server.resume()
            case .start:
                _ = try await server.start()
                for proxy in proxies { try await proxy.setServerDown(false) }
            case .mute: server.setMuted(true)
            case .unmute: server.setMuted(false)
            }
        case .clientSend(let text):
            for client in clients { _ = client.send(text: text) }
        case .clientClose:
            for client in clients { client.close() }
            for child in children { child.signal(SIGINT) }
        case .clientFreeze(let duration):
            freezeClients(true)
            if let duration {
                let log = self.log
                Task {
                    try? await Task.sleep(for: duration)
                    guard let woke = self.freezeClients(false) else { return }
                    log.record(RunnerEventType.clientResumed, fields: ["frozen_ms": .int(Int64(duration.milliseconds))], at: woke)
                }
            }
        case .clientResume:
            freezeClients(false)
        case .clientOffline:
            // The interface is gone: the open connections' packets go nowhere, then the browser says so.
            try await perform(.addFault(Fault(.blackhole, name: Step.Action.offlineFaultName)))
            try await emulateNetwork(offline: true)
        case .clientOnline:
            // The interface is back (held bytes go on, as TCP retransmits them), then the browser says so.
            try await perform(.removeFault(Step.Action.offlineFaultName))
            try await emulateNetwork(offline: false)
        }
    }

    /// Chromium's emulated network for every browser client: offline fires the page's `offline`
    /// event and fails new connections in the browser (open ones are left alone: the blackhole of
    /// `client: offline` is what they meet); online fires `online`.
    private func emulateNetwork(offline: Bool) async throws {
        let conditions: JSONObject = ["offline": .bool(offline), "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1]
        for tools in devTools.withLockedValue({ $0 }) {
            do {
                _ = try await tools.call("Network.emulateNetworkConditions", conditions)
            } catch {
                throw ChildError("client \(offline ? "offline" : "online"): \(error)")
            }
        }
    }

    /// Stops (SIGSTOP to each external client's process group; the built-in clients' timers and
    /// reads) or continues the clients. Returns the instant they were told, taken before any could
    /// act on it (a woken page's overdue timer fires at once; under load, a record made after the
    /// signals came later than the page's own event), or nil if that changed nothing.
    @discardableResult
    private func freezeClients(_ on: Bool) -> Instant? {
        guard frozen.withLockedValue({ frozen in defer { frozen = on }; return frozen != on }) else { return nil }
        let instant = Instant.now
        for client in clients { if on { client.freeze() } else { client.resume() } }
        for child in children { child.signal(on ? SIGSTOP : SIGCONT) }
        return instant
    }

    func stop() async {
        stopping.withLockedValue { $0 = true }
        // A stopped process cannot end: let frozen clients go on first.
        freezeClients(false)
        // All at once (thousands of clients close in the time of one). A client closes within its
        // close grace; teardown is bounded all the same.
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask { _ = await finishesWithin(.seconds(2)) { done in client.close().whenComplete { _ in done() } } }
            }
            for child in children { group.addTask { await child.stop() } }
        }
        for tools in devTools.withLockedValue({ $0 }) { tools.shutDown() }
        for profile in profiles.withLockedValue({ profiles in defer { profiles.removeAll() }; return profiles }) {
            try? FileManager.default.removeItem(atPath: profile)
        }
        // Teardown is bounded: a component that does not finish is left behind, not waited on forever.
        _ = await finishesWithin(.seconds(5)) { done in Task { for proxy in self.proxies { await proxy.stop() }; done() } }
        let rulesGone = packets?.stop() ?? true
        _ = await finishesWithin(.seconds(5)) { done in Task { await self.server.finish(); done() } }
        // Rules that could not be deleted would drop or reset another scenario's packets on these
        // ports: they stay this world's for the rest of the run.
        if rulesGone { claims.releaseAll() }
    }
}

/// What is kept of one external client's output: a client that floods its stdout must not take
/// the run's memory or time; the rest is read and dropped, and the cut is recorded once.
final class OutputBudget: Sendable {
    static let maximumLines = 100_000
    static let maximumBytes = 32 << 20
    private let state = NIOLockedValueBox((lines: 0, bytes: 0, truncated: false))

    var bytes: Int { state.withLockedValue { $0.bytes } }

    /// true: keep the line; false: this line hits the limit (record the cut); nil: drop silently.
    func admit(_ line: String) -> Bool? {
        state.withLockedValue { state in
            if state.truncated { return nil }
            guard state.lines < Self.maximumLines, state.bytes + line.utf8.count <= Self.maximumBytes else {
                state.truncated = true
                return false
            }
            state.lines += 1
            state.bytes += line.utf8.count
            return true
        }
    }
}
