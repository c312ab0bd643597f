import FaultProxy
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer

extension Scenario {
    /// Reads and validates a scenario file.
    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(location: path, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScenarioError(location: path, message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses and validates scenario text; every error says `file:line:column: what`.
    public static func parse(_ text: String, file: String) throws(ScenarioError) -> Scenario {
        let root = try YAMLValue.parse(text, file: file)
        var parser = ScenarioParser(file: file)
        return try parser.scenario(root, text: text)
    }
}

struct ScenarioParser {
    let file: String

    static let topKeys = ["name", "summary", "client", "server", "proxy", "seed", "capture", "time-limit", "timeline", "assert", "must-fail"]

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
        for (key, _, value) in try root.mapping("a scenario", allowed: Self.topKeys) {
            switch key {
            case "name": name = try value.string()
            case "summary": summary = try value.string()
            case "client": clientNode = value
            case "server": serverNode = value
            case "proxy":
                for (proxyKey, _, proxyValue) in try value.mapping("proxy", allowed: ["observe-frames"]) where proxyKey == "observe-frames" {
                    observeFrames = try proxyValue.bool()
                }
            case "seed": seed = UInt64(max(0, try value.int("an integer seed")))
            case "capture": capture = try value.bool()
            case "time-limit": timeLimit = try value.duration()
            case "timeline": timelineNode = value
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
        guard let name, !name.isEmpty else { throw root.error("a scenario needs a 'name'") }
        var server = (HeartbeatServerConfiguration(), "/", false)
        if let serverNode { server = try self.server(serverNode) }
        var client = ClientSpec.builtin(HeartbeatClientConfiguration(url: WebSocketURL(host: "127.0.0.1", port: 1)), count: 1)
        if let clientNode { client = try self.client(clientNode, serverPath: server.1) }
        var scenario = Scenario(
            name: name, summary: summary, file: file, text: text, client: client, server: server.0, serverPath: server.1, serverProcess: server.2,
            observeFrames: observeFrames, seed: seed, capture: capture, timeLimit: timeLimit, timeline: [], assertions: [],
            mustFail: mustFail, environment: [:]
        )
        scenario.environment = Self.environment(scenario)
        if case .external(let command, _, _, _) = scenario.client, let clientNode {
            do { try CommandTemplate.validate(command, environment: scenario.environment) } catch { throw clientNode.error(error.message) }
        }
        guard let timelineNode else { throw root.error("a scenario needs a 'timeline'") }
        scenario.timeline = try timeline(timelineNode, environment: scenario.environment)
        if let assertNode {
            scenario.assertions = try assertNode.sequence("a list of assertions").map { node throws(ScenarioError) in
                try assertion(node, environment: scenario.environment)
            }
        }
        try validateTimeline(scenario)
        return scenario
    }

    // MARK: Client and server

    func heartbeat(_ node: YAMLValue) throws(ScenarioError) -> HeartbeatPolicy {
        var dialectName = "json", textPayload: String?, textReply: String??, pushInterval: Duration?, tolerance: Double?
        var policy = HeartbeatPolicy()
        let keys = ["dialect", "interval", "timeout", "any-message-alive", "close-grace", "text-payload", "text-reply", "push-interval", "tolerance"]
        for (key, _, value) in try node.mapping("heartbeat", allowed: keys) {
            switch key {
            case "dialect": dialectName = try value.string()
            case "interval": policy.interval = try value.duration()
            case "timeout": policy.timeout = try value.duration()
            case "any-message-alive": policy.anyMessageCountsAsAlive = try value.bool()
            case "close-grace": policy.closeGrace = try value.duration()
            case "text-payload": textPayload = try value.string()
            case "text-reply":
                let reply = try value.string()
                textReply = .some(reply == "-" || reply == "any" ? nil : reply)
            case "push-interval": pushInterval = try value.duration()
            case "tolerance": tolerance = try value.double()
            default: break
            }
        }
        do {
            policy.dialect = try HeartbeatDialect.named(dialectName, textPayload: textPayload, textReply: textReply, pushInterval: pushInterval, tolerance: tolerance)
            try policy.validate()
        } catch {
            throw node.error(error.message)
        }
        return policy
    }

    func reconnect(_ node: YAMLValue) throws(ScenarioError) -> ReconnectPolicy {
        var policy = ReconnectPolicy()
        let keys = ["delay", "backoff", "jitter", "max-attempts", "stable-after", "connect-timeout"]
        for (key, _, value) in try node.mapping("reconnect", allowed: keys) {
            switch key {
            case "delay": policy.backoff = .fixed(try value.duration())
            case "backoff":
                var initial = Duration.milliseconds(100), multiplier = 2.0, cap = Duration.seconds(30)
                for (backoffKey, _, backoffValue) in try value.mapping("backoff", allowed: ["initial", "multiplier", "cap"]) {
                    switch backoffKey {
                    case "initial": initial = try backoffValue.duration()
                    case "multiplier": multiplier = try backoffValue.double()
                    default: cap = try backoffValue.duration()
                    }
                }
                policy.backoff = .exponential(initial: initial, multiplier: multiplier, cap: cap)
            case "jitter": policy.jitter = try value.double()
            case "max-attempts": policy.maxAttempts = try value.int()
            case "stable-after": policy.stableAfter = try value.duration()
            case "connect-timeout": policy.connectTimeout = try value.duration()
            default: break
            }
        }
        do {
            try policy.validate()
        } catch {
            throw node.error(error.message)
        }
        return policy
    }

    func client(_ node: YAMLValue, serverPath: String) throws(ScenarioError) -> ClientSpec {
        let keys = ["heartbeat", "reconnect", "messages", "count", "command", "path", "max-frame-size"]
        var heartbeat = HeartbeatPolicy(), reconnect = ReconnectPolicy(), count = 1
        var messages: MessageSchedule?, command: [String]?, path = serverPath, maxFrame = 1 << 20
        for (key, _, value) in try node.mapping("client", allowed: keys) {
            switch key {
            case "heartbeat": heartbeat = try self.heartbeat(value)
            case "reconnect": reconnect = try self.reconnect(value)
            case "messages":
                var bytes = 100, every = Duration.seconds(1)
                for (messageKey, _, messageValue) in try value.mapping("messages", allowed: ["bytes", "every"]) {
                    if messageKey == "bytes" { bytes = try messageValue.int() } else { every = try messageValue.duration() }
                }
                messages = MessageSchedule(bytes: bytes, every: every)
            case "count":
                count = try value.int()
                guard (1...200).contains(count) else { throw value.error("client count must be between 1 and 200") }
            case "command":
                command = try value.sequence("a command as a list, e.g. [python3, clients/client.py, \"{url}\"]").map { item throws(ScenarioError) in try item.string() }
                guard command?.isEmpty == false else { throw value.error("the command must not be empty") }
            case "path": path = try value.string()
            case "max-frame-size": maxFrame = try value.int()
            default: break
            }
        }
        if let command {
            return .external(command: command, count: count, heartbeat: heartbeat, reconnect: reconnect)
        }
        let configuration = HeartbeatClientConfiguration(
            url: WebSocketURL(host: "127.0.0.1", port: 1, path: path), heartbeat: heartbeat, reconnect: reconnect,
            maxFrameSize: maxFrame, messages: messages
        )
        do {
            try configuration.validate()
        } catch {
            throw node.error(error.message)
        }
        return .builtin(configuration, count: count)
    }

    func server(_ node: YAMLValue) throws(ScenarioError) -> (HeartbeatServerConfiguration, String, Bool) {
        let keys = ["dialect", "text-payload", "text-reply", "push-interval", "ping-interval", "reap-after", "echo", "path", "process"]
        var process = false
        var dialectName = "json", textPayload: String?, textReply: String??, pushInterval: Duration?
        var configuration = HeartbeatServerConfiguration()
        var path = "/"
        for (key, _, value) in try node.mapping("server", allowed: keys) {
            switch key {
            case "dialect": dialectName = try value.string()
            case "text-payload": textPayload = try value.string()
            case "text-reply":
                let reply = try value.string()
                textReply = .some(reply == "-" ? nil : reply)
            case "push-interval": pushInterval = try value.duration()
            case "ping-interval": configuration.pingInterval = try value.duration()
            case "reap-after": configuration.reapAfter = try value.duration()
            case "echo": configuration.echoMessages = try value.bool()
            case "path": path = try value.string()
            case "process": process = try value.bool()
            default: break
            }
        }
        do {
            configuration.dialect = try HeartbeatDialect.named(dialectName, textPayload: textPayload, textReply: textReply, pushInterval: pushInterval)
            try configuration.validate()
        } catch {
            throw node.error(error.message)
        }
        return (configuration, path, process)
    }

    static func environment(_ scenario: Scenario) -> [String: DurationExpression.Value] {
        let heartbeat = scenario.client.heartbeat
        let reconnect = scenario.client.reconnect
        var env: [String: DurationExpression.Value] = [
            "heartbeat.interval": .duration(heartbeat.interval),
            "heartbeat.timeout": .duration(heartbeat.timeout),
            "heartbeat.close-grace": .duration(heartbeat.effectiveCloseGrace),
            "heartbeat.detection": .duration(heartbeat.detectionBound),
            "reconnect.jitter": .number(reconnect.jitter),
            "reconnect.max-attempts": .number(Double(reconnect.maxAttempts ?? 1_000_000)),
            "reconnect.connect-timeout": .duration(reconnect.connectTimeout),
            "reconnect.stable-after": .duration(reconnect.stableAfter),
            "client.count": .number(Double(scenario.client.count)),
        ]
        if case .serverPush(let interval, let tolerance) = heartbeat.dialect {
            env["heartbeat.push-interval"] = .duration(interval)
            env["heartbeat.tolerance"] = .number(tolerance)
        }
        switch reconnect.backoff {
        case .fixed(let delay):
            env["reconnect.delay"] = .duration(delay)
            env["reconnect.initial"] = .duration(delay)
            env["reconnect.cap"] = .duration(delay)
            env["reconnect.multiplier"] = .number(1)
        case .exponential(let initial, let multiplier, let cap):
            env["reconnect.delay"] = .duration(initial)
            env["reconnect.initial"] = .duration(initial)
            env["reconnect.cap"] = .duration(cap)
            env["reconnect.multiplier"] = .number(multiplier)
        }
        if let reap = scenario.server.reapAfter { env["server.reap-after"] = .duration(reap) }
        if case .serverPush(let interval, _) = scenario.server.dialect { env["server.push-interval"] = .duration(interval) }
        if let ping = scenario.server.pingInterval { env["server.ping-interval"] = .duration(ping) }
        return env
    }

    // MARK: Timeline

    static let stepKeys = ["at", "fault", "heal", "server", "client", "wait", "after", "within", "expect", "not-before", "expect-none", "for", "while"]

    func timeline(_ node: YAMLValue, environment: [String: DurationExpression.Value]) throws(ScenarioError) -> [Step] {
        var steps: [Step] = []
        for (index, item) in try node.sequence("a list of timeline steps").enumerated() {
            let entries = try item.mapping("a timeline step", allowed: Self.stepKeys)
            let keys = Set(entries.map(\.key))
            func value(_ key: String) -> YAMLValue? { entries.first { $0.key == key }?.value }
            let actionKeys = ["fault", "heal", "server", "client"].filter { keys.contains($0) }
            let kindKeys = actionKeys + ["wait", "after", "expect", "expect-none"].filter { keys.contains($0) }
            guard kindKeys.count == 1 else {
                if kindKeys.isEmpty {
                    throw item.error("a step needs one of: fault, heal, server, client, wait, after, expect, expect-none")
                }
                throw item.error("a step does one thing; this one has \(kindKeys.joined(separator: " and ")): split it into \(kindKeys.count) steps")
            }
            let kind: Step.Kind
            switch kindKeys[0] {
            case "expect":
                guard let within = value("within") else { throw item.error("'expect' needs 'within: <duration expression>'") }
                kind = .expect(try pattern(value("expect")!), within: try expression(within, environment), notBefore: try value("not-before").map { v throws(ScenarioError) in try expression(v, environment) })
            case "expect-none":
                let p = try pattern(value("expect-none")!)
                if let duration = value("for") {
                    kind = .expectNone(p, window: .duration(try expression(duration, environment)))
                } else if let fault = value("while") {
                    kind = .expectNone(p, window: .whileFault(try fault.string("a fault name")))
                } else {
                    throw item.error("'expect-none' needs 'for: <duration>' or 'while: <fault name>'")
                }
            case "after":
                let within = try value("within").map { v throws(ScenarioError) in try expression(v, environment) } ?? .duration(.seconds(30))
                kind = .after(try pattern(value("after")!), within: within)
            case "wait":
                kind = .wait(try expression(value("wait")!, environment))
            default:
                let at = try value("at").map { v throws(ScenarioError) in try when(v) }
                kind = .action(at: at, try action(kindKeys[0], value(kindKeys[0])!))
            }
            // Keys that belong to another kind of step are mistakes worth naming.
            let allowedExtras: [String: Set<String>] = [
                "expect": ["within", "not-before"], "expect-none": ["for", "while"], "after": ["within"], "wait": [],
                "fault": ["at"], "heal": ["at"], "server": ["at"], "client": ["at"],
            ]
            if let stray = keys.subtracting([kindKeys[0]]).subtracting(allowedExtras[kindKeys[0]] ?? []).sorted().first,
                let strayNode = entries.first(where: { $0.key == stray })?.keyValue
            {
                throw strayNode.error("'\(stray)' does not apply to a '\(kindKeys[0])' step")
            }
            steps.append(Step(index: index + 1, location: item.location, kind: kind))
        }
        return steps
    }

    func when(_ node: YAMLValue) throws(ScenarioError) -> Step.When {
        var text = try node.string("a time such as 1s or +500ms")
        let relative = text.hasPrefix("+")
        if relative { text.removeFirst() }
        do {
            let duration = try DurationParser.parse(text)
            return relative ? .relative(duration) : .absolute(duration)
        } catch {
            throw node.error(error.message)
        }
    }

    func expression(_ node: YAMLValue, _ environment: [String: DurationExpression.Value]) throws(ScenarioError) -> DurationExpression {
        let text = try node.string("a duration expression such as heartbeat.interval + 50ms")
        do {
            let expression = try DurationExpression.parse(text)
            _ = try expression.duration(environment)
            return expression
        } catch {
            throw node.error(error.message)
        }
    }

    func pattern(_ node: YAMLValue) throws(ScenarioError) -> EventPattern {
        let text: String
        if node.isScalar {
            text = try node.string()
        } else {
            throw node.error("expected an event such as 'client disconnected {reason: heartbeat-timeout}' (quote it if it has braces)")
        }
        do {
            return try EventPattern.parse(text)
        } catch {
            throw node.error(error.message)
        }
    }

    func action(_ key: String, _ node: YAMLValue) throws(ScenarioError) -> Step.Action {
        switch key {
        case "fault":
            return .addFault(try fault(node))
        case "heal":
            let name = try node.string("a fault name or 'all'")
            return name == "all" ? .heal : .removeFault(name)
        case "server":
            let text = try node.string("a server action")
            guard let action = Step.ServerAction(rawValue: text) else {
                let all = Step.ServerAction.allCases.map(\.rawValue)
                let hint = closestMatch(to: text, in: all).map { ", did you mean '\($0)'?" } ?? ""
                throw node.error("unknown server action '\(text)'\(hint) (use \(all.joined(separator: ", ")))")
            }
            return .server(action)
        default:
            if node.isScalar {
                let text = try node.string()
                guard text == "close" else { throw node.error("unknown client action '\(text)'; use 'close' or {send: \"text\"}") }
                return .clientClose
            }
            for (_, _, value) in try node.mapping("a client action", allowed: ["send"]) {
                return .clientSend(try value.string())
            }
            throw node.error("empty client action")
        }
    }

    static let faultCommonKeys = ["type", "name", "direction", "stream", "toxicity", "target"]

    /// Every attribute name of every fault kind, in both spellings (the catalog's).
    static let faultKeys: [String] = {
        var keys = faultCommonKeys
        for spec in FaultCatalog.specs {
            for attribute in spec.attributes {
                for name in [attribute.name] + attribute.aliases {
                    for spelling in [name, name.replacingOccurrences(of: "_", with: "-")] where !keys.contains(spelling) { keys.append(spelling) }
                }
            }
        }
        return keys
    }()

    func fault(_ node: YAMLValue) throws(ScenarioError) -> Fault {
        if node.isScalar {
            return try makeFault(type: try node.string(), node: node, entries: [])
        }
        let entries = try node.mapping("a fault", allowed: Self.faultKeys)
        guard let type = entries.first(where: { $0.key == "type" })?.value else { throw node.error("a fault needs a 'type'") }
        return try makeFault(type: try type.string(), node: type, entries: entries)
    }

    /// A fault from its YAML entries, through the same catalog as the control API.
    private func makeFault(type rawType: String, node: YAMLValue, entries: [(key: String, keyValue: YAMLValue, value: YAMLValue)]) throws(ScenarioError) -> Fault {
        func value(_ key: String) -> YAMLValue? { entries.first { $0.key == key }?.value }
        let spec: FaultSpec
        do { spec = try FaultCatalog.spec(named: rawType) } catch { throw node.error(error.message) }
        let attributes = entries.filter { !Self.faultCommonKeys.contains($0.key) }
        // Each attribute on its own first, so that an error points at the attribute.
        for entry in attributes {
            do { _ = try spec.kind([(entry.key, entry.value.json())]) } catch { throw entry.keyValue.error(error.message) }
        }
        let kind: FaultKind
        do { kind = try spec.kind(attributes.map { ($0.key, $0.value.json()) }) } catch { throw node.error(error.message) }
        var direction = FaultDirection.both
        if let given = value("direction") ?? value("stream") {
            let text = try given.string()
            do { direction = try FaultCatalog.direction(text) } catch { throw given.error(error.message) }
        }
        var target = FaultTarget.all
        if let given = value("target") {
            do { target = try FaultCatalog.target(given.json()) } catch { throw given.error(error.message) }
        }
        let fault = Fault(kind, name: try value("name")?.string(), direction: direction, toxicity: try value("toxicity")?.double() ?? 1, target: target)
        do {
            try fault.validate()
        } catch {
            throw node.error(error.message)
        }
        return fault
    }

    // MARK: Assertions

    func assertion(_ node: YAMLValue, environment: [String: DurationExpression.Value]) throws(ScenarioError) -> Assertion {
        let text = try node.string("an assertion such as 'max-concurrent client connections <= 1'")
        func split(_ text: String) throws(ScenarioError) -> (String, Assertion.Comparison, DurationExpression) {
            for op in ["<=", ">=", "==", "<", ">"] {
                if let range = text.range(of: " \(op) ") {
                    let left = String(text[..<range.lowerBound])
                    let right = String(text[range.upperBound...])
                    do {
                        let expression = try DurationExpression.parse(right)
                        _ = try expression.evaluate(environment)
                        return (left, Assertion.Comparison(rawValue: op)!, expression)
                    } catch {
                        throw node.error(error.message)
                    }
                }
            }
            throw node.error("expected a comparison (<=, <, >=, >, ==) with spaces around it in '\(text)'")
        }
        func eventPattern(_ text: String) throws(ScenarioError) -> EventPattern {
            do { return try EventPattern.parse(text) } catch { throw node.error(error.message) }
        }
        let kind: Assertion.Kind
        if text.hasPrefix("count ") {
            let (left, op, right) = try split(String(text.dropFirst(6)))
            kind = .count(try eventPattern(left), op, right)
        } else if text.hasPrefix("max-concurrent ") {
            let (left, op, right) = try split(text)
            guard left == "max-concurrent client connections" else { throw node.error("expected 'max-concurrent client connections <op> N'") }
            kind = .maxConcurrent(op, right)
        } else if text == "reconnect-gaps non-decreasing" {
            kind = .reconnectGapsNonDecreasing
        } else if text.hasPrefix("reconnect-gaps spread ") {
            let (_, op, right) = try split(text)
            kind = .reconnectGapSpread(op, right)
        } else if text.hasPrefix("reconnect-gaps ") {
            let (_, op, right) = try split(text)
            kind = .reconnectGaps(op, right)
        } else if text.hasPrefix("spread ") {
            let (left, op, right) = try split(String(text.dropFirst(7)))
            kind = .spread(try eventPattern(left), op, right)
        } else {
            let forms = ["count <event> <op> N", "max-concurrent client connections <op> N", "reconnect-gaps <op> <duration>", "reconnect-gaps non-decreasing", "reconnect-gaps spread <op> <duration>", "spread <event> <op> <duration>"]
            let head = String(text.split(separator: " ").first ?? "")
            let hint = closestMatch(to: head, in: ["count", "max-concurrent", "reconnect-gaps", "spread"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw node.error("unknown assertion '\(text)'\(hint); the forms are: \(forms.joined(separator: "; "))")
        }
        return Assertion(location: node.location, text: text, kind: kind)
    }

    // MARK: Whole-timeline checks

    func validateTimeline(_ scenario: Scenario) throws(ScenarioError) {
        var lastAbsolute = Duration.zero
        var active: Set<String> = []
        var everAdded: Set<String> = []
        for step in scenario.timeline {
            guard case .action(let at, let action) = step.kind else { continue }
            if case .absolute(let time)? = at {
                guard time >= lastAbsolute else {
                    throw ScenarioError(location: step.location, message: "impossible timeline: 'at: \(time.flatlineDescription)' comes before an earlier step at \(lastAbsolute.flatlineDescription); use '+\(time.flatlineDescription)' for a time relative to the previous step")
                }
                lastAbsolute = time
            }
            switch action {
            case .addFault(let fault):
                guard !active.contains(fault.name) else {
                    throw ScenarioError(location: step.location, message: "fault '\(fault.name)' is already on; give the second one another 'name'")
                }
                active.insert(fault.name)
                everAdded.insert(fault.name)
            case .removeFault(let name):
                guard active.contains(name) else {
                    let hint = closestMatch(to: name, in: Array(active)).map { " (did you mean '\($0)'?)" } ?? ""
                    throw ScenarioError(location: step.location, message: "'heal: \(name)' names no fault that is on at this point\(hint); faults on: \(active.isEmpty ? "none" : active.sorted().joined(separator: ", "))")
                }
                active.remove(name)
            case .heal:
                active.removeAll()
            default:
                break
            }
        }
        for step in scenario.timeline {
            if case .expectNone(_, .whileFault(let name)) = step.kind, !everAdded.contains(name) {
                let hint = closestMatch(to: name, in: Array(everAdded)).map { " (did you mean '\($0)'?)" } ?? ""
                throw ScenarioError(location: step.location, message: "'while: \(name)' names no fault of this timeline\(hint)")
            }
        }
        if case .external = scenario.client {
            for step in scenario.timeline {
                if case .action(_, .clientSend) = step.kind {
                    throw ScenarioError(location: step.location, message: "'client: send' needs the built-in client")
                }
            }
        }
    }
}
