import EventSchema
import HeartbeatCore
import Yams

/// A scenario file problem: where (`file:line:column`) and what.
public struct ScenarioError: Error, CustomStringConvertible, Sendable, Equatable {
    public var location: String
    public var message: String

    public init(location: String, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}

/// A YAML node with its file and position, and typed accessors whose errors say where and what.
struct YAMLValue {
    let node: Node
    let file: String

    var location: String {
        guard let mark = node.mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    func error(_ message: String) -> ScenarioError { ScenarioError(location: location, message: message) }

    static func parse(_ text: String, file: String) throws(ScenarioError) -> YAMLValue {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ScenarioError(location: file, message: "the file is empty")
            }
            return YAMLValue(node: node, file: file)
        } catch let error as ScenarioError {
            throw error
        } catch let error as YamlError {
            throw ScenarioError(location: file, message: Self.describe(error, file: file))
        } catch {
            throw ScenarioError(location: file, message: "\(error)")
        }
    }

    private static func describe(_ error: YamlError, file: String) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            var hint = ""
            if problem.contains("mapping values are not allowed") {
                hint = " (an event with {field: value} filters must be quoted, e.g. expect: \"client disconnected {reason: heartbeat-timeout}\", or written as client disconnected reason=heartbeat-timeout)"
            }
            return "line \(mark.line), column \(mark.column): invalid YAML: \(problem)\(hint)"
        default:
            return "invalid YAML: \(error)"
        }
    }

    var isScalar: Bool { if case .scalar = node { true } else { false } }

    func string(_ what: String = "a string") throws(ScenarioError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected \(what)") }
        return scalar.string
    }

    func int(_ what: String = "an integer") throws(ScenarioError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error("expected \(what), got \(node.string.map { "'\($0)'" } ?? "a collection")")
        }
        return value
    }

    func double(_ what: String = "a number") throws(ScenarioError) -> Double {
        guard case .scalar(let scalar) = node else { throw error("expected \(what)") }
        var text = scalar.string
        var factor = 1.0
        if text.hasSuffix("%") {
            text.removeLast()
            factor = 0.01
        }
        guard let value = Double(text), value.isFinite else { throw error("expected \(what), got '\(scalar.string)'") }
        return value * factor
    }

    func bool() throws(ScenarioError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("expected true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got '\(scalar.string)'")
        }
    }

    func duration() throws(ScenarioError) -> Duration {
        let text = try string("a duration such as 400ms or 2s")
        do {
            return try DurationParser.parse(text)
        } catch {
            throw self.error(error.message)
        }
    }

    func sequence(_ what: String = "a list") throws(ScenarioError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("expected \(what)") }
        return sequence.map { YAMLValue(node: $0, file: file) }
    }

    /// The entries of a mapping, rejecting keys not in `allowed` with a suggestion.
    func mapping(_ what: String, allowed: [String]) throws(ScenarioError) -> [(key: String, keyValue: YAMLValue, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw error("expected \(what) (a mapping of keys to values)") }
        var result: [(key: String, keyValue: YAMLValue, value: YAMLValue)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            let keyValue = YAMLValue(node: keyNode, file: file)
            let key = try keyValue.string("a key")
            guard allowed.contains(key) else {
                let hint = closestMatch(to: key, in: allowed).map { ", did you mean '\($0)'?" } ?? "; expected one of \(allowed.joined(separator: ", "))"
                throw keyValue.error("unknown key '\(key)' in \(what)\(hint)")
            }
            guard seen.insert(key).inserted else { throw keyValue.error("duplicate key '\(key)' in \(what)") }
            result.append((key, keyValue, YAMLValue(node: valueNode, file: file)))
        }
        return result
    }

    /// Converts a flow mapping or scalar to JSON (for event filters).
    func json() -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            if let int = Int64(text) { return .int(int) }
            if let double = Double(text) { return .double(double) }
            if text == "true" { return .bool(true) }
            if text == "false" { return .bool(false) }
            return .string(text)
        case .sequence(let sequence):
            return .array(sequence.map { YAMLValue(node: $0, file: file).json() })
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping { object[key.string ?? "?"] = YAMLValue(node: value, file: file).json() }
            return .object(object)
        case .alias:
            return .null
        }
    }
}
