import FaultModel
import Foundation
public import EventSchema
import HeartbeatCore

extension Scenario {
    /// `--var NAME=VALUE` options as vars, each name once.
    public static func vars(fromOptions options: [String]) throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        for option in options {
            guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                throw ConfigurationError("--var \(option): write NAME=VALUE, e.g. --var mode=faithful")
            }
            let name = String(option[..<equals])
            guard values[name] == nil else { throw ConfigurationError("--var \(name) is given twice") }
            values[name] = String(option[option.index(after: equals)...])
        }
        return values
    }

    /// Reads and validates a scenario file. `vars`: values for the file's `vars` (`--var NAME=VALUE`).
    public static func load(path: String, vars: [String: String] = [:], world: Bool = false) throws(ScenarioError) -> Scenario {
        // Refused before it is read: a scenario is a page of YAML, and the parser's time and memory grow with the file.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maximumFileBytes {
            throw ScenarioError.tooLarge(path, bytes: size)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(location: path, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            var iterator = data.makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            var line = 1, column = 1
            scan: while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid(let encoded):
                    if encoded.count == 1, encoded.first == 10 { line += 1; column = 1 } else { column += 1 }
                case .emptyInput: break scan
                case .error: break scan
                }
            }
            throw ScenarioError(location: "\(path):\(line):\(column)", message: "the file is not UTF-8 text (an invalid byte here); save it as UTF-8")
        }
        return try parse(text, file: path, vars: vars, world: world)
    }

    /// Parses and validates scenario text; every error says `file:line:column: what`. A `world`
    /// (what `flatline explore` reads) may have no timeline: its client, server and settings are
    /// what counts.
    public static func parse(_ text: String, file: String, vars: [String: String] = [:], world: Bool = false) throws(ScenarioError) -> Scenario {
        guard text.utf8.count <= maximumFileBytes else { throw ScenarioError.tooLarge(file, bytes: text.utf8.count) }
        do {
            let root = try YAMLValue.parse(text, file: file)
            var parser = ScenarioParser(file: file, overrides: vars, world: world)
            return try parser.scenario(root, text: text)
        } catch {
            throw error.withinText(text)
        }
    }

    /// The largest scenario file read: 1 MiB (the largest bundled one is a few KiB).
    public static let maximumFileBytes = 1 << 20
}

struct ScenarioParser {
    let file: String
    /// `--var NAME=VALUE`: values for the file's `vars`.
    var overrides: [String: String] = [:]
    /// Read as a world for exploration: the timeline is optional.
    var world = false

    static let topKeys = ["name", "summary", "client", "server", "proxy", "seed", "capture", "time-limit", "timeline", "assert", "must-fail", "network", "vars", "explore"]

    mutating func scenario(_ root: YAMLValue, text: String) throws(ScenarioError) -> Scenario {
        var name: String?
        var summary = ""
        var clientNode: YAMLValue?
        var serverNode: YAMLValue?
        var observeFrames = false
        var seed: UInt64 = 1
        var capture = false
        var timeLimit = Duration.seconds(60)
        var timelineNode: YAMLValue?
        var assertNode: YAMLValue?
        var mustFail: Scenario.MustFail?
        var network = NetworkMode.proxy
        var explore: ExploreSpace?
        // Every problem of the file is reported in one pass: each section and each step is read on
        // its own, and what fails is collected.
        var problems: [ScenarioError] = []
        func collect(_ body: () throws(ScenarioError) -> Void) {
            do { try body() } catch { problems.append(error) }
        }
        let topLevel = try root.mapping("a scenario", allowed: Self.topKeys)
        // `vars: {mode: fixed}`: named strings with defaults, `{var.mode}` in commands, set with `--var mode=faithful`.
        var vars: [String: String] = [:]
        for (key, _, value) in topLevel where key == "vars" {
            collect { () throws(ScenarioError) in
                for (name, nameNode, text) in try value.mapping("vars", allowed: nil) {
                    guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !name.isEmpty else {
                        throw nameNode.error("a var name is letters, digits, '-' and '_', got '\(name)'")
                    }
                    vars[name] = try text.string("the var's default value (a string)")
                }
            }
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            guard vars[name] != nil else {
                let known = vars.keys.sorted()
                problems.append(root.error("--var \(name)=\(value): the scenario declares no var '\(name)'\(String.suggestion(for: name, in: known)) (its vars: \(known.isEmpty ? "none; declare one under 'vars:'" : known.joined(separator: ", ")))"))
                continue
            }
            vars[name] = value
        }
        for (key, _, value) in topLevel {
            collect { () throws(ScenarioError) in
                switch key {
                case "name": name = try value.string()
                case "summary": summary = try value.string()
                case "client": clientNode = value
                case "server": serverNode = value
                case "proxy":
                    for (proxyKey, _, proxyValue) in try value.mapping("proxy", allowed: ["observe-frames"]) where proxyKey == "observe-frames" {
                        observeFrames = try proxyValue.bool()
                    }
                case "seed": seed = UInt64(try value.int("an integer seed", in: 0...Int.max))
                case "capture": capture = try value.bool()
                case "time-limit": timeLimit = try value.duration()
                case "network":
                    network = try Self.network(value)
                case "timeline": timelineNode = value
                case "explore": explore = try Self.explore(value)
                case "assert": assertNode = value
                case "must-fail":
                    var check = "", message = ""
                    for (mustKey, _, mustValue) in try value.mapping("must-fail", allowed: ["check", "message"]) {
                        if mustKey == "check" { check = try mustValue.string() } else { message = try mustValue.string() }
                    }
                    mustFail = Scenario.MustFail(check: check, message: message)
                default: break
                }
            }
        }
        if name?.isEmpty != false { problems.append(root.error("a scenario needs a 'name'")) }
        var server: (HeartbeatServerConfiguration, String, Bool, ExternalServer?) = (HeartbeatServerConfiguration(), "/", false, nil)
        if let serverNode { collect { () throws(ScenarioError) in server = try self.server(serverNode) } }
        var client = ClientSpec.builtin(HeartbeatClientConfiguration(url: WebSocketURL(host: "127.0.0.1", port: 1)), count: 1)
        var browser: BrowserClient?, ramp = Duration.zero
        if let clientNode { collect { () throws(ScenarioError) in (client, browser, ramp) = try self.client(clientNode, serverPath: server.1, timeLimit: timeLimit) } }
        var scenario = Scenario(
            name: name ?? "", summary: summary, file: file, text: text, client: client, server: server.0, serverPath: server.1,
            serverProcess: server.2, observeFrames: observeFrames, seed: seed, capture: capture, timeLimit: timeLimit, timeline: [],
            assertions: [], mustFail: mustFail, environment: [:]
        )
        scenario.externalServer = server.3
        scenario.browser = browser
        scenario.clientRamp = ramp
        scenario.explore = explore
        scenario.environment = Self.environment(scenario)
        scenario.vars = vars
        scenario.client = scenario.client.substituting(vars)
        if case .command(let command, let ready, let within, let environment, let directory)? = scenario.externalServer {
            scenario.externalServer = .command(CommandTemplate.substitute(vars, in: command), ready: ready, readyWithin: within, environment: environment, directory: directory)
        }
        if case .external(let command, _, _, _) = scenario.client, let clientNode {
            do { try CommandTemplate.validate(command, environment: scenario.environment) } catch { problems.append(clientNode.error(error.message)) }
        }
        if case .command(let command, _, _, _, _)? = scenario.externalServer, let serverNode {
            do { try CommandTemplate.validate(command, environment: scenario.environment) } catch { problems.append(serverNode.error(error.message)) }
        }
        if let timelineNode {
            collect { () throws(ScenarioError) in scenario.timeline = try timeline(timelineNode, environment: scenario.environment) }
        } else if !world {
            problems.append(root.error("a scenario needs a 'timeline' (a world for 'flatline explore' may have none)"))
        }
        if let assertNode {
            collect { () throws(ScenarioError) in
                var assertions: [Assertion] = []
                var failed: [ScenarioError] = []
                for node in try assertNode.sequence("a list of assertions") {
                    do throws(ScenarioError) { assertions.append(try assertion(node, environment: scenario.environment)) } catch { failed.append(error) }
                }
                if let error = ScenarioError.combined(failed) { throw error }
                scenario.assertions = assertions
            }
        }
        if let error = ScenarioError.combined(problems) { throw error }
        try validateTimeline(scenario)
        scenario.serverLocation = serverNode?.location
        return try scenario.in(network)
    }

    static func network(_ node: YAMLValue) throws(ScenarioError) -> NetworkMode {
        let text = try node.string("a network mode: proxy or packet")
        guard let mode = NetworkMode(rawValue: text) else {
            throw node.error("unknown network '\(text)'\(String.suggestion(for: text, in: NetworkMode.allCases.map(\.rawValue))); use proxy (faults in the proxy) or packet (nftables rules in a private network namespace)")
        }
        return mode
    }
}

extension Scenario {
    /// The scenario as run in `mode` (the file's own `network:`, or `flatline run --network`):
    /// checks written for the other mode are left out, and in packet mode every fault must have a
    /// packet-level form and the server must be one Flatline starts inside the namespace.
    public func `in`(_ mode: NetworkMode) throws(ScenarioError) -> Scenario {
        var scenario = self
        scenario.network = mode
        if scenario.writtenSteps.isEmpty { scenario.writtenSteps = timeline }
        scenario.timeline = scenario.writtenSteps.filter { $0.network == nil || $0.network == mode }
        guard mode == .packet else {
            for step in scenario.timeline {
                if case .action(_, .addFault(let fault)) = step.kind, case .loss = fault.kind {
                    throw ScenarioError(location: step.location, message: "fault 'loss' drops packets, which a userland proxy never sees: it needs network: packet")
                }
            }
            return scenario
        }
        if case .upstream(let address)? = externalServer {
            throw ScenarioError(
                location: serverLocation ?? file,
                message: "network: packet runs the scenario in a private network namespace, which cannot reach the upstream \(address); start the server from the scenario (server: {command: [...]}) or use network: proxy"
            )
        }
        for step in scenario.timeline {
            guard case .action(_, .addFault(let fault)) = step.kind else { continue }
            if case .failure(let reason) = PacketForm.of(fault) {
                throw ScenarioError(location: step.location, message: "network: packet: \(reason)")
            }
        }
        return scenario
    }
}
