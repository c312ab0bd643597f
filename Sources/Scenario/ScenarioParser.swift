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
}
