public import HeartbeatCore
import Yams

/// `<source> <type> {field: value, …}`: which events an expectation looks for.
public struct EventPattern: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var type: String
    public var filters: JSONObject

    public static let sources = ["client", "server", "proxy", "wire", "runner"]

    /// Event types each source can produce (for "did you mean" on typos).
    public static let knownTypes: [String: [String]] = [
        "client": [
            "connecting", "connected", "heartbeat-sent", "heartbeat-acked", "heartbeat-received", "message-sent",
            "message-received", "protocol-error", "disconnected", "reconnect-scheduled", "gave-up", "closed", "output", "exited",
        ],
        "server": [
            "listening", "client-connected", "heartbeat-received", "heartbeat-pushed", "ping-sent", "message-received",
            "protocol-error", "reaped", "client-disconnected", "muted", "frozen", "resumed", "killed", "stopped", "exited",
        ],
        "proxy": [
            "listening", "conn-opened", "upstream-connected", "upstream-failed", "upgraded", "http-response", "conn-closed",
            "closed-by-proxy", "conn-ended", "fault-on", "fault-off", "fault-skipped", "hold-full", "frame", "frame-dropped",
            "listener-closed",
        ],
        "wire": ["syn", "fin", "rst", "fin-or-rst", "frame", "retransmission"],
        "runner": ["step", "teardown"],
    ]

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
        guard let types = knownTypes[source] else {
            let hint = closestMatch(to: source, in: sources).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigurationError("unknown event source '\(source)'\(hint); sources are \(sources.joined(separator: ", "))")
        }
        guard types.contains(type) else {
            let hint = closestMatch(to: type, in: types).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigurationError("unknown \(source) event '\(type)'\(hint); \(source) events are \(types.joined(separator: ", "))")
        }
        return EventPattern(source: source, type: type, filters: filters)
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
