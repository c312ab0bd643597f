/// One line of the event schema shared by live runs, recordings and external clients:
/// `{"t": <ms since start>, "src": "...", "type": "...", <fields>}`.
public struct EventRecord: Sendable, Hashable {
    /// Time since the start of the run (monotonic).
    public var t: Duration
    /// Its source and type, as the catalog declares them.
    public var type: EventType
    public var fields: JSONObject

    /// `client`, `server`, `proxy`, `wire` or `runner`.
    public var source: EventSource { type.source }

    public init(t: Duration, type: EventType, fields: JSONObject = [:]) {
        self.t = t
        self.type = type
        self.fields = fields
    }

    /// The record as one line of JSON (no trailing newline). `t` is milliseconds with microsecond precision.
    public var jsonLine: String {
        var object: JSONObject = [
            "t": .double((Double(t.nanoseconds) / 1000).rounded() / 1000),
            "src": .string(source.rawValue),
            "type": .string(type.name),
        ]
        for (key, value) in fields where object[key] == nil { object[key] = value }
        return object.description
    }

    /// A one-line human form: `  1.234s client disconnected reason=heartbeat-timeout conn=1`.
    public var humanLine: String {
        let seconds = Double(t.nanoseconds) / 1e9
        var line = String(format: seconds).paddedTime + "s " + type.description
        for (key, value) in fields {
            line += " \(key)="
            if case .string(let s) = value, !s.contains(" ") { line += s } else { line += value.description }
        }
        return line
    }

    /// Parses a line written by `jsonLine` (or by an external client following the schema).
    public init(jsonLine line: String) throws(ConfigurationError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            throw ConfigurationError("not an event line: \(error)")
        }
        guard let object = value.objectValue else { throw ConfigurationError("an event line must be a JSON object") }
        guard let t = object["t"]?.doubleValue else { throw ConfigurationError("event line without a numeric \"t\"") }
        // Milliseconds since the start of a run: anything beyond a year is not a real event time.
        guard t.isFinite, abs(t) <= 365 * 24 * 3600 * 1000 else { throw ConfigurationError("event time \(t) ms is out of range") }
        guard let src = object["src"]?.stringValue else { throw ConfigurationError("event line without \"src\"") }
        guard let source = EventSource(rawValue: src) else { throw ConfigurationError("unknown event source '\(src)'") }
        guard let type = object["type"]?.stringValue else { throw ConfigurationError("event line without \"type\"") }
        var fields = JSONObject()
        for (key, value) in object where !["t", "src", "type"].contains(key) { fields[key] = value }
        self.init(t: .nanoseconds(Int64((t * 1e6).rounded())), type: EventType(source: source, name: type), fields: fields)
    }
}

extension EventRecord {
    /// A line an external program printed, as an event of `source` at `t` (the runner's clock):
    /// `{"type": …, "t": <its own clock>, <fields>}`, its own `t` kept as `client_t` or `server_t`.
    /// Nil when the line is not a JSON object with a `type`, or — `requireSource` — its `src` is
    /// not `source` (a server command that prints JSON of its own).
    public init?(printedBy source: EventSource, line: String, at t: Duration, requireSource: Bool = false) {
        guard let object = (try? JSONValue(parsing: line))?.objectValue, let name = object["type"]?.stringValue else { return nil }
        if requireSource, object["src"]?.stringValue != source.rawValue { return nil }
        var fields = JSONObject()
        for (key, value) in object where !["t", "src", "type"].contains(key) { fields[key] = value }
        if let own = object["t"] { fields[source == .client ? "client_t" : "server_t"] = own }
        self.init(t: t, type: EventType(source: source, name: name), fields: fields)
    }
}

extension String {
    fileprivate var paddedTime: String {
        var s = self
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < 3 { s += String(repeating: "0", count: 3 - decimals) }
        } else {
            s += ".000"
        }
        return s.count < 8 ? String(repeating: " ", count: 8 - s.count) + s : s
    }
}
