import FaultModel
import Foundation
import EventSchema
import HeartbeatCore

// The client and server sections, and the settings bounds can name.
extension ScenarioParser {
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
            case "tolerance": tolerance = try value.double(in: 1...1000)
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
                var initial = ReconnectPolicy.defaultBackoffInitial, multiplier = ReconnectPolicy.defaultBackoffMultiplier, cap = ReconnectPolicy.defaultBackoffCap
                for (backoffKey, _, backoffValue) in try value.mapping("backoff", allowed: ["initial", "multiplier", "cap"]) {
                    switch backoffKey {
                    case "initial": initial = try backoffValue.duration()
                    case "multiplier": multiplier = try backoffValue.double(in: 1...1000)
                    default: cap = try backoffValue.duration()
                    }
                }
                policy.backoff = .exponential(initial: initial, multiplier: multiplier, cap: cap)
            case "jitter": policy.jitter = try value.double(in: 0...1)
            case "max-attempts": policy.maxAttempts = try value.int(in: 0...1_000_000)
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

    func client(_ node: YAMLValue, serverPath: String, timeLimit: Duration) throws(ScenarioError) -> (ClientSpec, BrowserClient?, ramp: Duration) {
        let keys = ["heartbeat", "reconnect", "messages", "count", "ramp", "command", "path", "max-frame-size", "browser", "args"]
        var browser: BrowserClient?, browserArgs: [(String, String)] = []
        var heartbeat = HeartbeatPolicy(), reconnect = ReconnectPolicy(), count = 1, ramp = Duration.zero
        var messages: MessageSchedule?, command: [String]?, path = serverPath, maxFrame = 1 << 20
        for (key, _, value) in try node.mapping("client", allowed: keys) {
            switch key {
            case "heartbeat": heartbeat = try self.heartbeat(value)
            case "reconnect": reconnect = try self.reconnect(value)
            case "messages":
                var bytes = MessageSchedule.defaultBytes, every = MessageSchedule.defaultEvery
                for (messageKey, _, messageValue) in try value.mapping("messages", allowed: ["bytes", "every"]) {
                    if messageKey == "bytes" { bytes = try messageValue.int(in: 0...(16 << 20)) } else { every = try messageValue.duration() }
                }
                messages = MessageSchedule(bytes: bytes, every: every)
            case "count":
                count = try value.int("a client count", in: 1...100_000)
            case "ramp":
                ramp = try value.duration()
                guard ramp < timeLimit else {
                    throw value.error("the ramp (\(ramp.flatlineDescription)) must be shorter than the scenario's time limit (\(timeLimit.flatlineDescription)); raise 'time-limit' or shorten 'ramp'")
                }
            case "command":
                command = try value.sequence("a command as a list, e.g. [python3, clients/client.py, \"{url}\"]").map { item throws(ScenarioError) in try item.string() }
                guard command?.isEmpty == false else { throw value.error("the command must not be empty") }
            case "path": path = try value.string()
            case "max-frame-size": maxFrame = try value.int(in: 126...(64 << 20))
            case "browser":
                let page = try value.string("a page to open in the browser, e.g. clients/browser/heartcheck.html")
                guard page.hasSuffix(".html") || page.hasSuffix(".htm") else { throw value.error("'browser' names an HTML page (.html), got '\(page)'") }
                browser = BrowserClient(page: page, args: [])
            case "args":
                for (argKey, _, argValue) in try value.mapping("args", allowed: nil) {
                    browserArgs.append((argKey, try argValue.string()))
                }
            default: break
            }
        }
        if browser != nil, command != nil { throw node.error("a client is a 'command' or a 'browser' page, not both") }
        if !browserArgs.isEmpty, browser == nil { throw node.error("'args' are the query parameters of a 'browser' page; this client has no 'browser'") }
        if var page = browser {
            page.args = browserArgs
            return (.external(command: page.command, count: count, heartbeat: heartbeat, reconnect: reconnect), page, ramp)
        }
        if let command {
            return (.external(command: command, count: count, heartbeat: heartbeat, reconnect: reconnect), nil, ramp)
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
        return (.builtin(configuration, count: count), nil, ramp)
    }

    /// The server section: the built-in server's settings, or a server of the user's own
    /// (`command: [...]` that Flatline starts, or `upstream: host:port` already running).
    func server(_ node: YAMLValue) throws(ScenarioError) -> (HeartbeatServerConfiguration, String, Bool, ExternalServer?) {
        let builtinKeys = ["dialect", "text-payload", "text-reply", "push-interval", "ping-interval", "reap-after", "echo", "process"]
        let keys = builtinKeys + ["path", "command", "ready", "env", "cwd", "upstream"]
        var process = false
        var dialectName = "json", textPayload: String?, textReply: String??, pushInterval: Duration?
        var configuration = HeartbeatServerConfiguration()
        var path = "/"
        var command: [String]?, ready = ExternalServer.Readiness.port, readyWithin = Duration.seconds(20)
        var environment: [String: String] = [:], directory: String?
        var upstream: HostPort?
        let entries = try node.mapping("server", allowed: keys)
        for (key, _, value) in entries {
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
            case "command":
                command = try value.sequence("a command as a list, e.g. [node, server.js, --port, \"{port}\"]").map { item throws(ScenarioError) in try item.string() }
                guard command?.isEmpty == false else { throw value.error("the command must not be empty") }
            case "ready":
                if value.isScalar {
                    let text = try value.string()
                    guard text == "port" else { throw value.error("ready must be 'port' or {line: \"regex\"}, got '\(text)'") }
                } else {
                    for (readyKey, _, readyValue) in try value.mapping("ready", allowed: ["line", "within"]) {
                        if readyKey == "within" {
                            readyWithin = try readyValue.duration()
                            continue
                        }
                        let pattern = try readyValue.string()
                        do { _ = try Regex(pattern) } catch { throw readyValue.error("invalid regular expression '\(pattern)': \(error)") }
                        ready = .line(pattern)
                    }
                }
            case "env":
                for (envKey, _, envValue) in try value.mapping("env", allowed: nil) { environment[envKey] = try envValue.string() }
            case "cwd": directory = try value.string()
            case "upstream":
                do { upstream = try HostPort(parsing: try value.string()) } catch let error as ConfigurationError { throw value.error(error.message) } catch { throw value.error("\(error)") }
            default: break
            }
        }
        let given = Set(entries.map(\.key))
        if command != nil || upstream != nil {
            if command != nil, upstream != nil {
                throw node.error("a server has 'command' or 'upstream', not both")
            }
            if let stray = given.intersection(builtinKeys).sorted().first, let strayNode = entries.first(where: { $0.key == stray })?.keyValue {
                throw strayNode.error("'\(stray)' configures the built-in server; this scenario's server is \(command != nil ? "a command" : "an upstream")")
            }
            if upstream != nil, let stray = given.intersection(["ready", "env", "cwd"]).sorted().first, let strayNode = entries.first(where: { $0.key == stray })?.keyValue {
                throw strayNode.error("'\(stray)' applies to a command server, not to an upstream")
            }
        } else if let stray = given.intersection(["ready", "env", "cwd"]).sorted().first, let strayNode = entries.first(where: { $0.key == stray })?.keyValue {
            throw strayNode.error("'\(stray)' applies to a server started with 'command'")
        }
        do {
            configuration.dialect = try HeartbeatDialect.named(dialectName, textPayload: textPayload, textReply: textReply, pushInterval: pushInterval)
            try configuration.validate()
        } catch {
            throw node.error(error.message)
        }
        var external: ExternalServer?
        if let command { external = .command(command, ready: ready, readyWithin: readyWithin, environment: environment, directory: directory) }
        if let upstream { external = .upstream(upstream) }
        return (configuration, path, process, external)
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
            "client.ramp": .duration(scenario.clientRamp),
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
}
