import FaultModel
import Foundation
import EventSchema
import HeartbeatCore

// Timeline steps: actions, waits, expectations, faults.
extension ScenarioParser {
    // MARK: Timeline

    static let stepKeys = ["at", "fault", "heal", "server", "client", "wait", "after", "within", "expect", "not-before", "expect-none", "for", "while", "network", "each-client"]

    func timeline(_ node: YAMLValue, environment: [String: DurationExpression.Value]) throws(ScenarioError) -> [Step] {
        var steps: [Step] = []
        var problems: [ScenarioError] = []
        for (index, item) in try node.sequence("a list of timeline steps").enumerated() {
            do {
                steps.append(try step(item, index: index, environment: environment))
            } catch {
                problems.append(error)
            }
        }
        if let error = ScenarioError.combined(problems) { throw error }
        return steps
    }

    private func step(_ item: YAMLValue, index: Int, environment: [String: DurationExpression.Value]) throws(ScenarioError) -> Step {
        do {
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
                "expect": ["within", "not-before", "network", "each-client"], "expect-none": ["for", "while", "network"], "after": ["within", "each-client"], "wait": [],
                "fault": ["at"], "heal": ["at"], "server": ["at"], "client": ["at"],
            ]
            if let stray = keys.subtracting([kindKeys[0]]).subtracting(allowedExtras[kindKeys[0]] ?? []).sorted().first,
                let strayNode = entries.first(where: { $0.key == stray })?.keyValue
            {
                throw strayNode.error("'\(stray)' does not apply to a '\(kindKeys[0])' step")
            }
            var step = Step(index: index + 1, location: item.location, kind: kind, network: try value("network").map { v throws(ScenarioError) in try Self.network(v) })
            if let each = value("each-client") {
                step.eachClient = try each.bool()
                if step.eachClient, let pattern = step.kind.pattern, pattern.source != .client {
                    throw each.error("'each-client' applies to client events; this step waits for \(pattern.source) events")
                }
            }
            return step
        }
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
                switch text {
                case "close": return .clientClose
                case "freeze": return .clientFreeze(nil)
                case "resume": return .clientResume
                case "offline": return .clientOffline
                case "online": return .clientOnline
                default:
                    let hint = closestMatch(to: text, in: ["close", "freeze", "resume", "offline", "online"]).map { ", did you mean '\($0)'?" } ?? ""
                    throw node.error("unknown client action '\(text)'\(hint); use close, freeze, resume, offline, online, {freeze: 30s} or {send: \"text\"}")
                }
            }
            for (key, _, value) in try node.mapping("a client action", allowed: ["send", "freeze"]) {
                if key == "freeze" {
                    let duration = try value.duration()
                    guard duration > .zero else { throw value.error("a freeze lasts longer than 0") }
                    return .clientFreeze(duration)
                }
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
            do { try spec.check(entry.key, entry.value.json()) } catch { throw entry.keyValue.error(error.message) }
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
        let fault = Fault(kind, name: try value("name")?.string(), direction: direction, toxicity: try value("toxicity")?.double(in: 0...1) ?? 1, target: target)
        do {
            try fault.validate()
        } catch {
            throw node.error(error.message)
        }
        return fault
    }
}
