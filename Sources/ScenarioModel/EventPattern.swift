public import EventSchema
import Foundation
import Synchronization
import Yams

/// `<source> <type> {field: value, …}`: which events an expectation looks for.
public struct EventPattern: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var type: String
    public var filters: JSONObject

    public static let sources = EventSource.allCases.map(\.rawValue)

    /// Types that only patterns name: `wire fin-or-rst` matches either.
    static let patternOnlyTypes: [String: [String]] = ["wire": ["fin-or-rst"]]

    /// Event types each source can produce, from the schema's catalog.
    public static func knownTypes(_ source: EventSource) -> [String] {
        EventCatalog.types(of: source).map(\.type) + (patternOnlyTypes[source.rawValue] ?? [])
    }

    public init<T: CataloguedEvent>(_ type: T, filters: JSONObject = [:]) {
        self.init(source: T.source.rawValue, type: type.rawValue, filters: filters)
    }

    public init(source: String, type: String, filters: JSONObject = [:]) {
        self.source = source
        self.type = type
        self.filters = filters
    }

    public var description: String {
        var text = "\(source) \(type)"
        if !filters.isEmpty {
            text += " {" + filters.map { "\($0.key): \($0.value.stringValue ?? $0.value.description)" }.joined(separator: ", ") + "}"
        }
        return text
    }

    /// Parses the pattern text; errors mention only the problem (the caller adds the location).
    public static func parse(_ text: String) throws(ConfigurationError) -> EventPattern {
        let trimmed = text.trimmingCharacters(in: " ")
        var head = trimmed
        var filters = JSONObject()
        if let brace = trimmed.firstIndex(of: "{") {
            head = String(trimmed[..<brace]).trimmingCharacters(in: " ")
            let flow = String(trimmed[brace...])
            guard let node = try? Yams.compose(yaml: flow), case .mapping = node else {
                throw ConfigurationError("invalid field filter '\(flow)'; write it as {field: value, other: value}")
            }
            guard case .object(let object) = YAMLValue(node: node, file: "").json() else {
                throw ConfigurationError("invalid field filter '\(flow)'")
            }
            filters = object
        }
        var words = head.split(separator: " ").map(String.init)
        // `reason=heartbeat-timeout` words are filters too.
        while words.count > 2, let equals = words.last?.firstIndex(of: "=") {
            let word = words.removeLast()
            let key = String(word[..<equals]), value = String(word[word.index(after: equals)...])
            filters[key] = Int64(value).map { .int($0) } ?? .string(value)
        }
        guard words.count == 2 else {
            throw ConfigurationError("expected '<source> <event> {filters}', e.g. 'client disconnected {reason: heartbeat-timeout}', got '\(text)'")
        }
        let (source, type) = (words[0], words[1])
        guard let eventSource = EventSource(rawValue: source) else {
            throw ConfigurationError("unknown event source '\(source)'\(String.suggestion(for: source, in: sources)); sources are \(sources.joined(separator: ", "))")
        }
        let types = knownTypes(eventSource)
        guard types.contains(type) else {
            throw ConfigurationError("unknown \(source) event '\(type)'\(String.suggestion(for: type, in: types)); \(source) events are \(types.joined(separator: ", "))")
        }
        // A filter on a field the event never has would match nothing, silently.
        let fieldsOf = type == "fin-or-rst" ? "fin" : type
        let allowed = EventCatalog.allowedFields(source: eventSource, type: fieldsOf)
        if let stray = filters.keys.first(where: { !allowed.contains($0) }) {
            let list = allowed.isEmpty ? "it has no fields to filter on" : "its fields are \(allowed.joined(separator: ", "))"
            throw ConfigurationError("\(source) \(type) has no field '\(stray)'\(String.suggestion(for: stray, in: allowed)); \(list)")
        }
        // `{line: {contains: "ready"}}` and `{line: {matches: "^listening on [0-9]+$"}}`: text tests.
        for (key, value) in filters {
            guard let test = value.objectValue else { continue }
            guard test.keys.count == 1, let op = test.keys.first, ["contains", "matches"].contains(op), let operand = test[op]?.stringValue else {
                throw ConfigurationError("filter '\(key)' takes a value, {contains: \"text\"} or {matches: \"regular expression\"}")
            }
            if op == "matches" {
                do { _ = try NSRegularExpression(pattern: operand) } catch {
                    throw ConfigurationError("filter '\(key)': '\(operand)' is not a valid regular expression")
                }
            }
        }
        return EventPattern(source: source, type: type, filters: filters)
    }

    private static let expressions = Mutex<[String: NSRegularExpression]>([:])

    /// Whether `text` matches the regular expression `pattern` (compiled once).
    static func text(_ text: String, matches pattern: String) -> Bool {
        let expression = expressions.withLock { cache -> NSRegularExpression? in
            if let cached = cache[pattern] { return cached }
            let compiled = try? NSRegularExpression(pattern: pattern)
            cache[pattern] = compiled
            return compiled
        }
        guard let expression else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    public func matches(_ event: EventRecord) -> Bool {
        guard event.source == source else { return false }
        if source == "wire", type == "fin-or-rst" {
            guard event.type == "fin" || event.type == "rst" else { return false }
        } else if event.type != type {
            return false
        }
        for (key, expected) in filters {
            guard let actual = event.fields[key] else { return false }
            if actual == expected { continue }
            if let test = expected.objectValue {
                let actualText = actual.stringValue ?? actual.description
                if let needle = test["contains"]?.stringValue, actualText.contains(needle) { continue }
                if let pattern = test["matches"]?.stringValue, Self.text(actualText, matches: pattern) { continue }
                return false
            }
            // `reason: heartbeat-timeout` and `conn: 2` compare as text too.
            let actualText = actual.stringValue ?? actual.description
            let expectedText = expected.stringValue ?? expected.description
            guard actualText == expectedText else { return false }
        }
        return true
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set || s.first?.isNewline == true { s.removeFirst() }
        while s.last == set || s.last?.isNewline == true { s.removeLast() }
        return String(s)
    }
}
