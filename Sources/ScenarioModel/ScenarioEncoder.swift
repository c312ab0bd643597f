import EventSchema
import FaultModel
import HeartbeatCore

extension Scenario {
    /// The scenario written back as a scenario file: `Scenario.parse` reads it to an equal value
    /// (every setting, step, fault and check; not the original's comments, layout or file name).
    /// Durations are written exactly, strings quoted, defaults left out.
    public var yaml: String { ScenarioEncoder().encode(self) }
}

/// Writes a ``Scenario`` as YAML in the syntax of docs/scenarios.md.
struct ScenarioEncoder {
    func encode(_ scenario: Scenario) -> String {
        var lines = ["name: \(quoted(scenario.name))"]
        if !scenario.summary.isEmpty { lines.append("summary: \(quoted(scenario.summary))") }
        if !scenario.vars.isEmpty {
            lines.append("vars: {" + scenario.vars.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "}")
        }
        if scenario.seed != 1 { lines.append("seed: \(scenario.seed)") }
        if scenario.capture { lines.append("capture: true") }
        if scenario.timeLimit != .seconds(60) { lines.append("time-limit: \(exact(scenario.timeLimit))") }
        if scenario.network != .proxy { lines.append("network: \(scenario.network.rawValue)") }
        if scenario.observeFrames { lines.append("proxy: {observe-frames: true}") }
        if let mustFail = scenario.mustFail {
            lines.append("must-fail: {check: \(quoted(mustFail.check)), message: \(quoted(mustFail.message))}")
        }
        lines.append("client:")
        lines += client(scenario).map { "  " + $0 }
        let server = server(scenario)
        if !server.isEmpty {
            lines.append("server:")
            lines += server.map { "  " + $0 }
        }
        let steps = scenario.writtenSteps.isEmpty ? scenario.timeline : scenario.writtenSteps
        if !steps.isEmpty {
            lines.append("timeline:")
            for step in steps { lines += self.step(step) }
        }
        if !scenario.assertions.isEmpty {
            lines.append("assert:")
            lines += scenario.assertions.map { "  - \(quoted($0.text))" }
        }
        if let space = scenario.explore { lines += explore(space) }
        return lines.joined(separator: "\n") + "\n"
    }

    private func explore(_ space: ExploreSpace) -> [String] {
        var pairs: [(String, String)] = []
        if let kinds = space.kinds { pairs.append(("kinds", "[" + kinds.map(\.rawValue).joined(separator: ", ") + "]")) }
        if let targets = space.targets { pairs.append(("targets", "[" + targets.map(\.rawValue).joined(separator: ", ") + "]")) }
        if let d = space.durations { pairs.append(("durations", "{min: \(exact(d.lowerBound)), max: \(exact(d.upperBound))}")) }
        if let g = space.gaps { pairs.append(("gaps", "{min: \(exact(g.lowerBound)), max: \(exact(g.upperBound))}")) }
        if let f = space.faults { pairs.append(("faults", "{min: \(f.lowerBound), max: \(f.upperBound)}")) }
        if let length = space.length { pairs.append(("length", exact(length))) }
        if let c = space.clients { pairs.append(("clients", "{min: \(c.lowerBound), max: \(c.upperBound)}")) }
        if let margin = space.margin { pairs.append(("margin", exact(margin))) }
        return pairs.isEmpty ? ["explore: {}"] : ["explore:"] + pairs.map { "  \($0.0): \($0.1)" }
    }

    // MARK: Client and server

    private func client(_ scenario: Scenario) -> [String] {
        var lines: [String] = []
        if scenario.client.count != 1 { lines.append("count: \(scenario.client.count)") }
        if scenario.clientRamp > .zero { lines.append("ramp: \(exact(scenario.clientRamp))") }
        lines.append("heartbeat: " + flow(heartbeat(scenario.client.heartbeat)))
        lines.append("reconnect: " + flow(reconnect(scenario.client.reconnect)))
        switch scenario.client {
        case .builtin(let configuration, _):
            if configuration.url.path != scenario.serverPath { lines.append("path: \(quoted(configuration.url.path))") }
            if configuration.maxFrameSize != 1 << 20 { lines.append("max-frame-size: \(configuration.maxFrameSize)") }
            if let messages = configuration.messages { lines.append("messages: {bytes: \(messages.bytes), every: \(exact(messages.every))}") }
        case .external(let command, _, _, _):
            if let browser = scenario.browser {
                lines.append("browser: \(quoted(browser.page))")
                if !browser.args.isEmpty {
                    lines.append("args: {" + browser.args.map { "\(quoted($0.0)): \(quoted($0.1))" }.joined(separator: ", ") + "}")
                }
            } else {
                lines.append("command: [" + command.map(quoted).joined(separator: ", ") + "]")
            }
        }
        return lines
    }

    /// A dialect's settings (the server's have no tolerance: that is the client's judgement).
    private func dialect(_ dialect: HeartbeatDialect, server: Bool = false) -> [(String, String)] {
        switch dialect {
        case .json: [("dialect", "json")]
        case .ping: [("dialect", "ping")]
        case .text(let payload, let reply): [("dialect", "text"), ("text-payload", quoted(payload)), ("text-reply", quoted(reply ?? "-"))]
        case .serverPush(let interval, let tolerance):
            [("dialect", "server-push"), ("push-interval", exact(interval))] + (server ? [] : [("tolerance", number(tolerance))])
        }
    }

    private func heartbeat(_ policy: HeartbeatPolicy) -> [(String, String)] {
        var pairs = dialect(policy.dialect) + [("interval", exact(policy.interval)), ("timeout", exact(policy.timeout))]
        if policy.anyMessageCountsAsAlive { pairs.append(("any-message-alive", "true")) }
        if let grace = policy.closeGrace { pairs.append(("close-grace", exact(grace))) }
        return pairs
    }

    private func reconnect(_ policy: ReconnectPolicy) -> [(String, String)] {
        var pairs: [(String, String)]
        switch policy.backoff {
        case .fixed(let delay): pairs = [("delay", exact(delay))]
        case .exponential(let initial, let multiplier, let cap):
            pairs = [("backoff", "{initial: \(exact(initial)), multiplier: \(number(multiplier)), cap: \(exact(cap))}")]
        }
        pairs += [("jitter", number(policy.jitter)), ("stable-after", exact(policy.stableAfter)), ("connect-timeout", exact(policy.connectTimeout))]
        if let attempts = policy.maxAttempts { pairs.append(("max-attempts", String(attempts))) }
        return pairs
    }

    private func server(_ scenario: Scenario) -> [String] {
        var lines: [String] = []
        if scenario.serverPath != "/" { lines.append("path: \(quoted(scenario.serverPath))") }
        switch scenario.externalServer {
        case .command(let command, let ready, let within, let environment, let directory)?:
            lines.append("command: [" + command.map(quoted).joined(separator: ", ") + "]")
            switch ready {
            case .port: if within != .seconds(20) { lines.append("ready: {within: \(exact(within))}") }
            case .line(let pattern): lines.append("ready: {line: \(quoted(pattern))" + (within != .seconds(20) ? ", within: \(exact(within))" : "") + "}")
            }
            if !environment.isEmpty {
                lines.append("env: {" + environment.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "}")
            }
            if let directory { lines.append("cwd: \(quoted(directory))") }
        case .upstream(let address)?:
            lines.append("upstream: \(quoted(address.description))")
        case nil:
            let server = scenario.server
            lines += dialect(server.dialect, server: true).map { "\($0.0): \($0.1)" }
            if let ping = server.pingInterval { lines.append("ping-interval: \(exact(ping))") }
            if let reap = server.reapAfter { lines.append("reap-after: \(exact(reap))") }
            if !server.echoMessages { lines.append("echo: false") }
            if scenario.serverProcess { lines.append("process: true") }
        }
        return lines
    }

    // MARK: Steps

    private func step(_ step: Step) -> [String] {
        var pairs: [(String, String)] = []
        switch step.kind {
        case .action(let at, let action):
            switch at {
            case .absolute(let time)?: pairs.append(("at", exact(time)))
            case .relative(let time)?: pairs.append(("at", quoted("+" + exact(time))))
            case nil: break
            }
            switch action {
            case .addFault(let fault): pairs.append(("fault", self.fault(fault)))
            case .removeFault(let name): pairs.append(("heal", quoted(name)))
            case .heal: pairs.append(("heal", "all"))
            case .server(let action): pairs.append(("server", action.rawValue))
            case .clientSend(let text): pairs.append(("client", "{send: \(quoted(text))}"))
            case .clientClose: pairs.append(("client", "close"))
            case .clientFreeze(nil): pairs.append(("client", "freeze"))
            case .clientFreeze(let duration?): pairs.append(("client", "{freeze: \(duration.flatlineDescription)}"))
            case .clientResume: pairs.append(("client", "resume"))
            case .clientOffline: pairs.append(("client", "offline"))
            case .clientOnline: pairs.append(("client", "online"))
            }
        case .after(let pattern, let within):
            pairs += [("after", quoted(self.pattern(pattern))), ("within", quoted(expression(within)))]
        case .expect(let pattern, let within, let notBefore):
            pairs += [("expect", quoted(self.pattern(pattern))), ("within", quoted(expression(within)))]
            if let notBefore { pairs.append(("not-before", quoted(expression(notBefore)))) }
        case .expectNone(let pattern, let window):
            pairs.append(("expect-none", quoted(self.pattern(pattern))))
            switch window {
            case .duration(let length): pairs.append(("for", quoted(expression(length))))
            case .whileFault(let name): pairs.append(("while", quoted(name)))
            }
        case .wait(let length):
            pairs.append(("wait", quoted(expression(length))))
        }
        if let network = step.network { pairs.append(("network", network.rawValue)) }
        if step.eachClient { pairs.append(("each-client", "true")) }
        return pairs.enumerated().map { index, pair in (index == 0 ? "  - " : "    ") + "\(pair.0): \(pair.1)" }
    }

    func fault(_ fault: Fault) -> String {
        var pairs = [("type", quoted(fault.kind.typeName)), ("name", quoted(fault.name)), ("direction", fault.direction.rawValue)]
        if fault.toxicity < 1 { pairs.append(("toxicity", number(fault.toxicity))) }
        if fault.target != .all { pairs.append(("target", fault.target.jsonValue.description)) }
        if case .object(let attributes) = fault.attributesJSON {
            for (key, value) in attributes { pairs.append((key, value.description)) }
        }
        return flow(pairs)
    }

    /// An event pattern, with its filters' values as JSON (valid YAML flow, whatever they hold).
    private func pattern(_ pattern: EventPattern) -> String {
        var text = pattern.kind.description
        if !pattern.filters.isEmpty {
            text += " {" + pattern.filters.map { "\($0.key): \($0.value.description)" }.joined(separator: ", ") + "}"
        }
        return text
    }

    /// A duration expression that parses to the same tree: right operands and sums under a
    /// product are parenthesized, durations written exactly.
    private func expression(_ expression: DurationExpression) -> String {
        func operand(_ e: DurationExpression, right: Bool, product: Bool) -> String {
            switch e {
            case .add, .subtract: return right || product ? "(\(self.expression(e)))" : self.expression(e)
            case .multiply, .divide: return right ? "(\(self.expression(e)))" : self.expression(e)
            default: return self.expression(e)
            }
        }
        switch expression {
        case .duration(let d): return exact(d)
        case .number(let n): return number(n)
        case .variable(let name): return name
        case .add(let a, let b): return "\(operand(a, right: false, product: false)) + \(operand(b, right: true, product: false))"
        case .subtract(let a, let b): return "\(operand(a, right: false, product: false)) - \(operand(b, right: true, product: false))"
        case .multiply(let a, let b): return "\(operand(a, right: false, product: true)) * \(operand(b, right: true, product: true))"
        case .divide(let a, let b): return "\(operand(a, right: false, product: true)) / \(operand(b, right: true, product: true))"
        }
    }

    // MARK: Scalars

    /// A duration in the largest unit that holds it exactly.
    private func exact(_ duration: Duration) -> String {
        let ns = duration.nanoseconds
        for (unit, size) in [("m", Int64(60_000_000_000)), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] where ns != 0 && ns % size == 0 {
            return "\(ns / size)\(unit)"
        }
        return ns == 0 ? "0ms" : "\(ns)ns"
    }

    private func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// A double-quoted YAML scalar (JSON's escapes are YAML's).
    private func quoted(_ text: String) -> String { JSONValue.string(text).description }

    private func flow(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
    }
}
