import Foundation
import EventSchema
import HeartbeatCore
import Yams

/// A scenario file problem: where (`file:line:column`) and what.
public struct ScenarioError: Error, CustomStringConvertible, Sendable, Equatable {
    public var location: String
    public var message: String
    /// Further problems of the same file, found in the same pass.
    public var more: [ScenarioError] = []

    public init(location: String, message: String) {
        self.location = location
        self.message = message
    }

    /// One error carrying all of `problems` (in file order), or nil when there are none.
    static func combined(_ problems: [ScenarioError]) -> ScenarioError? {
        let flat = problems.flatMap(\.all)
        guard var first = flat.first else { return nil }
        first.more = Array(flat.dropFirst())
        return first
    }

    /// Every problem, one `file:line:column: message` per line.
    public var all: [ScenarioError] {
        var first = self
        first.more = []
        return [first] + more.flatMap(\.all)
    }

    static func tooLarge(_ file: String, bytes: Int) -> ScenarioError {
        let mib = Double(bytes) / Double(1 << 20)
        return ScenarioError(
            location: file,
            message: "the file is \(mib < 10 ? String(format: "%.2f", mib) : String(Int(mib))) MiB (\(bytes) bytes): scenario files are limited to 1 MiB (\(Scenario.maximumFileBytes) bytes); it was not read"
        )
    }

    /// The same errors with every location inside `text`: a position past its end (the YAML
    /// reader marks the end of input one line further) points at the end of its last line.
    func withinText(_ text: String) -> ScenarioError {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        func clamp(_ error: ScenarioError) -> ScenarioError {
            var error = error
            let parts = error.location.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count >= 3, let line = Int(parts[parts.count - 2]), Int(parts[parts.count - 1]) != nil, line > lines.count || line < 1 {
                let last = max(1, lines.count)
                let file = parts.dropLast(2).joined(separator: ":")
                let end = (lines.last.map { $0.count } ?? 0) + 1
                error.location = "\(file):\(last):\(line < 1 ? 1 : end)"
            }
            error.more = error.more.map(clamp)
            return error
        }
        return clamp(self)
    }

    public var description: String {
        all.map { $0.location.isEmpty ? $0.message : "\($0.location): \($0.message)" }.joined(separator: "\n")
    }
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

    /// Aliases a scenario may use; beyond this (or as a mapping key) an alias bomb could expand
    /// exponentially while the file is read.
    static let maximumAliases = 64

    static func parse(_ text: String, file: String) throws(ScenarioError) -> YAMLValue {
        try checkCharactersAndAliases(text, file: file)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ScenarioError(location: "\(file):1:1", message: "the file is empty: a scenario needs a 'name' and a 'timeline'")
            }
            return YAMLValue(node: node, file: file)
        } catch let error as ScenarioError {
            throw error
        } catch let error as YamlError {
            throw Self.describe(error, file: file, text: text)
        } catch {
            throw ScenarioError(location: "\(file):1:1", message: "\(error)")
        }
    }

    private static func describe(_ error: YamlError, file: String, text: String) -> ScenarioError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            var hint = ""
            if problem.contains("mapping values are not allowed") {
                hint = " (an event with {field: value} filters must be quoted, e.g. expect: \"client disconnected {reason: heartbeat-timeout}\", or written as client disconnected reason=heartbeat-timeout)"
            }
            return ScenarioError(location: "\(file):\(mark.line):\(mark.column)", message: "invalid YAML: \(problem)\(hint)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // The context marks the mapping; name the second occurrence of the key.
            let (line, column) = Self.position(ofSecond: duplicates.first ?? "", in: text) ?? (context.mark.line, context.mark.column)
            return ScenarioError(location: "\(file):\(line):\(column)", message: "duplicate key '\(duplicates.joined(separator: "', '"))': each key may appear once in a mapping")
        case .reader(let problem, let offset, _, _):
            let (line, column) = Self.position(ofOffset: offset ?? 0, in: text)
            return ScenarioError(location: "\(file):\(line):\(column)", message: "invalid YAML: \(problem)")
        default:
            return ScenarioError(location: "\(file):1:1", message: "invalid YAML: \(error)")
        }
    }

    /// Line and column (from 1, in characters) of a UTF-8 byte offset.
    static func position(ofOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, consumed = 0
        for character in text {
            if consumed >= offset { break }
            consumed += character.utf8.count
            if character.isNewline { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    /// Where the second `key:` at the start of a line (after indentation) stands.
    static func position(ofSecond key: String, in text: String) -> (Int, Int)? {
        var seen = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "-" }
            guard trimmed.hasPrefix(key + ":") else { continue }
            seen += 1
            if seen == 2 { return (index + 1, line.count - trimmed.count + 1) }
        }
        return nil
    }

    /// Control characters and alias bombs are refused before the YAML parser sees the text.
    static func checkCharactersAndAliases(_ text: String, file: String) throws(ScenarioError) {
        var line = 1, column = 1, aliases = 0
        var quote: Character?
        var previous: Character = " "
        var atLineStart = true
        var comment = false
        for character in text {
            defer {
                if character.isNewline {
                    line += 1
                    column = 1
                    quote = nil
                    comment = false
                    atLineStart = true
                } else {
                    column += 1
                    if character != " " && character != "-" { atLineStart = false }
                }
                previous = character
            }
            if let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1,
                scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" || scalar.value == 0x7F
            {
                throw ScenarioError(location: "\(file):\(line):\(column)", message: "control character U+\(String(scalar.value, radix: 16, uppercase: true)) is not allowed in a scenario file")
            }
            if comment { continue }
            if let open = quote {
                if character == open { quote = nil }
                continue
            }
            switch character {
            case "#" where previous == " " || atLineStart: comment = true
            case "\"", "'": if previous == " " || previous == ":" || previous == "[" || previous == "{" || previous == "," || atLineStart { quote = character }
            case "*" where previous == " " || previous == "[" || previous == "{" || previous == "," || atLineStart:
                aliases += 1
                if aliases > Self.maximumAliases {
                    throw ScenarioError(location: "\(file):\(line):\(column)", message: "more than \(Self.maximumAliases) YAML aliases: refused (an alias bomb expands exponentially)")
                }
                if previous == " ", let lineText = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(line - 1).first,
                    lineText.drop(while: { $0 == " " }).hasPrefix("? ")
                {
                    throw ScenarioError(location: "\(file):\(line):\(column)", message: "an alias as a mapping key is not supported in scenario files")
                }
            default:
                break
            }
        }
    }

    var isScalar: Bool { if case .scalar = node { true } else { false } }

    func string(_ what: String = "a string") throws(ScenarioError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected \(what)") }
        return scalar.string
    }

    /// An integer within `range`: every number of a scenario has one, so nothing that validates
    /// can overflow later.
    func int(_ what: String = "an integer", in range: ClosedRange<Int>) throws(ScenarioError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error("expected \(what), got \(node.string.map { "'\($0)'" } ?? "a collection")")
        }
        guard range.contains(value) else { throw error("\(value) is out of range: expected \(range.lowerBound)…\(range.upperBound)") }
        return value
    }

    func double(_ what: String = "a number", in range: ClosedRange<Double> = -1e12...1e12) throws(ScenarioError) -> Double {
        guard case .scalar(let scalar) = node else { throw error("expected \(what)") }
        var text = scalar.string
        var factor = 1.0
        if text.hasSuffix("%") {
            text.removeLast()
            factor = 0.01
        }
        guard let value = Double(text), value.isFinite else { throw error("expected \(what), got '\(scalar.string)'") }
        guard range.contains(value * factor) else { throw error("\(scalar.string) is out of range: expected \(range.lowerBound)…\(range.upperBound)") }
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
    /// The entries of a mapping; `allowed` nil accepts any key (environment variables).
    func mapping(_ what: String, allowed: [String]?) throws(ScenarioError) -> [(key: String, keyValue: YAMLValue, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw error("expected \(what) (a mapping of keys to values)") }
        var result: [(key: String, keyValue: YAMLValue, value: YAMLValue)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            let keyValue = YAMLValue(node: keyNode, file: file)
            let key = try keyValue.string("a key")
            if let allowed, !allowed.contains(key) {
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
