public import EventSchema
import Foundation
import Synchronization
import Yams

/// `<source> <type> {field: value, …}`: which events an expectation looks for.
public struct EventPattern: Sendable, Hashable, CustomStringConvertible {
    /// What a pattern names: one catalogued type, or `wire fin-or-rst`, which matches either.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        case event(EventType)
        case wireFinOrRst

        public var source: EventSource {
            switch self {
            case .event(let type): type.source
            case .wireFinOrRst: .wire
            }
        }

        /// `client disconnected`, `wire fin-or-rst`: as a scenario file writes it.
        public var description: String {
            switch self {
            case .event(let type): type.description
            case .wireFinOrRst: "wire fin-or-rst"
            }
        }

        public func covers(_ type: EventType) -> Bool {
            switch self {
            case .event(let own): own == type
            case .wireFinOrRst: type == .wire(.fin) || type == .wire(.rst)
            }
        }

        /// The fields its events carry.
        var allowedFields: [String] {
            switch self {
            case .event(let type): EventCatalog.allowedFields(type)
            case .wireFinOrRst: EventCatalog.allowedFields(.wire(.fin))
            }
        }
    }

    public var kind: Kind
    public var filters: JSONObject

    public var source: EventSource { kind.source }

    /// The client event type it names, if it names one.
    public var clientType: ClientEventType? {
        if case .event(.client(let type)) = kind { type } else { nil }
    }

    public static let sources = EventSource.allCases.map(\.rawValue)

    /// The kinds each source's patterns can name: the catalog's types, and `wire fin-or-rst`.
    static func kinds(_ source: EventSource) -> [String: Kind] {
        var kinds: [String: Kind] = [:]
        for entry in EventCatalog.types(of: source) { kinds[entry.type] = .event(EventType(source: source, name: entry.type)) }
        if source == .wire { kinds["fin-or-rst"] = .wireFinOrRst }
        return kinds
    }

    /// Event type names each source can produce, from the schema's catalog, in its order.
    public static func knownTypes(_ source: EventSource) -> [String] {
        EventCatalog.types(of: source).map(\.type) + (source == .wire ? ["fin-or-rst"] : [])
    }

    public init<T: CataloguedEvent>(_ type: T, filters: JSONObject = [:]) {
        self.init(kind: .event(type.eventType), filters: filters)
    }

    public init(kind: Kind, filters: JSONObject = [:]) {
        self.kind = kind
        self.filters = filters
    }

    public var description: String {
        var text = kind.description
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
        guard let kind = kinds(eventSource)[type] else {
            throw ConfigurationError("unknown \(source) event '\(type)'\(String.suggestion(for: type, in: types)); \(source) events are \(types.joined(separator: ", "))")
        }
        // A filter on a field the event never has would match nothing, silently.
        let allowed = kind.allowedFields
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
        return EventPattern(kind: kind, filters: filters)
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
        guard kind.covers(event.type) else { return false }
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
