public import EventSchema

/// One attribute of a fault kind: its canonical (Toxiproxy) name, unit, default and range.
/// Both spellings (`average_size`, `average-size`) are accepted everywhere, and times take either
/// a duration (`200ms`) or a bare Toxiproxy integer in the attribute's unit.
public struct FaultAttribute: Sendable {
    public enum Unit: String, Sendable {
        case milliseconds = "ms"
        case microseconds = "µs"
        case bytes
        case kilobytesPerSecond = "KB/s"
        case percent = "%"
        /// A list of WebSocket opcodes (a single name or a list).
        case opcodes
        case text
    }

    public var name: String
    /// Other names accepted for it (scenario files' historical short forms).
    public var aliases: [String]
    public var unit: Unit
    public var defaultValue: Int64
    public var range: ClosedRange<Int64>
    /// The words a `text` attribute may take (the first is its default), or empty for any text.
    public var choices: [String]
    /// Whether it must be given (no default makes sense: an idle timeout).
    public var required = false

    init(_ name: String, _ unit: Unit, default defaultValue: Int64 = 0, range: ClosedRange<Int64> = 0...(1 << 40), aliases: [String] = [], required: Bool = false) {
        self.required = required
        self.name = name
        self.aliases = aliases
        self.unit = unit
        self.defaultValue = defaultValue
        self.range = range
        self.choices = []
    }

    /// A text attribute that takes one of `choices`, the first by default.
    init(_ name: String, choices: [String]) {
        self.init(name, .text)
        self.choices = choices
    }

    func matches(_ key: String) -> Bool {
        let normalized = FaultCatalog.normalized(key)
        return normalized == name || aliases.contains(normalized)
    }

    /// A typed value from what a decoder read (JSON integer, duration text, string or list).
    func decode(_ raw: JSONValue, type: String) throws(ConfigurationError) -> FaultSpec.Value {
        func integer(_ value: Int64) throws(ConfigurationError) -> FaultSpec.Value {
            guard value >= range.lowerBound else {
                throw ConfigurationError(range.lowerBound == 0 ? "\(type) \(name) must not be negative, got \(value)" : "\(type) \(name) must be at least \(range.lowerBound) \(unit.rawValue), got \(value)")
            }
            guard value <= range.upperBound else {
                throw ConfigurationError("\(type) \(name) must be at most \(range.upperBound) \(unit.rawValue), got \(value)")
            }
            return .integer(value)
        }
        switch unit {
        case .milliseconds, .microseconds:
            let perUnit: Int64 = unit == .milliseconds ? 1_000_000 : 1_000
            if let number = raw.intValue { return try integer(number).scaledDuration(perUnit) }
            guard let text = raw.stringValue else {
                throw ConfigurationError("\(type) \(name) must be a duration such as 200ms, or an integer in \(unit == .milliseconds ? "milliseconds" : "microseconds"), got \(raw)")
            }
            let duration = try DurationParser.parse(text)
            let units = duration.nanoseconds / perUnit
            guard range.contains(units) else {
                throw ConfigurationError("\(type) \(name) must be at most \(Duration.nanoseconds(range.upperBound * perUnit).flatlineDescription), got \(text)")
            }
            return .duration(duration)
        case .bytes, .kilobytesPerSecond, .percent:
            guard let number = raw.intValue else {
                let what = unit == .bytes ? "bytes" : unit == .percent ? "percent" : "kilobytes per second"
                throw ConfigurationError("\(type) \(name) must be an integer (\(what)), got \(raw)")
            }
            return try integer(number)
        case .opcodes:
            let items = raw.arrayValue ?? [raw]
            var names: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw ConfigurationError("\(type) opcodes must be names such as pong, got \(item)") }
                names += text.split(separator: ",").map { String($0).lowercased() }
            }
            return .list(names)
        case .text:
            guard let text = raw.stringValue else {
                if !choices.isEmpty { throw ConfigurationError("\(type) \(name) must be \(choices.joined(separator: " or ")), got \(raw)") }
                throw ConfigurationError("\(type) \(name) must be text, got \(raw)")
            }
            guard choices.isEmpty || choices.contains(text.lowercased()) else {
                throw ConfigurationError("\(type) \(name) must be \(choices.joined(separator: " or ")), got '\(text)'\(String.suggestion(for: text.lowercased(), in: choices))")
            }
            return .text(choices.isEmpty ? text : text.lowercased())
        }
    }

    /// The attribute's value in Toxiproxy JSON.
    func encode(_ value: FaultSpec.Value) -> JSONValue {
        switch value {
        case .integer(let n): .int(n)
        case .duration(let d): .int(d.nanoseconds / (unit == .microseconds ? 1_000 : 1_000_000))
        case .list(let items): .array(items.map { .string($0) })
        case .text(let text): .string(text)
        }
    }

    var documentation: String {
        switch unit {
        case .opcodes: "`\(name)` (ping, pong, close, text, binary)"
        case .text where !choices.isEmpty: "`\(name)` (\(choices.joined(separator: " or ")), default \(choices[0]))"
        case .text: "`\(name)` (text)"
        default: "`\(name)` (\(unit.rawValue)\(required ? ", required" : defaultValue != 0 ? ", default \(defaultValue)" : ""))"
        }
    }
}

/// One fault kind, declared once: its names, attributes, how it is built from them and written
/// back, and its line of documentation. The scenario decoder, the Toxiproxy JSON decoder and
/// encoder, `flatline fault add` and the table in docs/proxy.md are all derived from it.
public struct FaultSpec: Sendable {
    public enum Value: Sendable, Hashable {
        case integer(Int64)
        case duration(Duration)
        case list([String])
        case text(String)

        var duration: Duration {
            switch self {
            case .duration(let d): d
            case .integer(let n): .nanoseconds(n)
            default: .zero
            }
        }

        var integer: Int {
            if case .integer(let n) = self { return Int(n) }
            return 0
        }

        func scaledDuration(_ nanosPerUnit: Int64) -> Value {
            if case .integer(let n) = self { return .duration(.nanoseconds(n * nanosPerUnit)) }
            return self
        }
    }

    /// What a fault acts on.
    public enum Scope: String, Sendable {
        /// A stage in each affected direction's byte stream (FaultStages.swift).
        case flow
        /// Whole connections, both ways (ProxiedConnection's `install`): reset, close, power loss.
        case connection
        /// The proxy's listener (refuse).
        case listener
    }

    /// The kind of fault this entry declares; its canonical name in the control API is `type.rawValue`.
    public var kindType: FaultType
    /// The canonical type name in the control API (Toxiproxy's name for its own toxics).
    public var type: String { kindType.rawValue }
    public var scope: Scope
    public var aliases: [String]
    /// The heading in the documentation.
    public var title: String
    public var attributes: [FaultAttribute]
    /// What the peers see (the documentation line).
    public var effect: String
    let build: @Sendable (Values) -> FaultKind
    let values: @Sendable (FaultKind) -> [String: Value]

    init(
        type: FaultType, scope: Scope, aliases: [String], title: String, attributes: [FaultAttribute], effect: String,
        build: @escaping @Sendable (Values) -> FaultKind, values: @escaping @Sendable (FaultKind) -> [String: Value]
    ) {
        self.kindType = type
        self.scope = scope
        self.aliases = aliases
        self.title = title
        self.attributes = attributes
        self.effect = effect
        self.build = build
        self.values = values
    }

    /// A kind's decoded attributes, every one present (``kind(_:)`` fills in the defaults), read by
    /// name: no force-unwrapping in the catalog's builders.
    struct Values {
        var raw: [String: Value]
        func integer(_ name: String) -> Int { raw[name]?.integer ?? 0 }
        func duration(_ name: String) -> Duration { raw[name]?.duration ?? .zero }
        func text(_ name: String) -> String {
            if case .text(let text)? = raw[name] { return text }
            return ""
        }
        subscript(_ name: String) -> Value? { raw[name] }
    }

    /// Builds the kind from raw attributes; every error names the attribute.
    public func kind(_ raw: [(key: String, value: JSONValue)]) throws(ConfigurationError) -> FaultKind {
        var values: [String: Value] = [:]
        for (key, value) in raw {
            let (attribute, decoded) = try check(key, value)
            values[attribute.name] = decoded
        }
        for attribute in attributes where values[attribute.name] == nil {
            if attribute.required {
                throw ConfigurationError("\(type) needs \(attribute.name) (\(attribute.unit == .milliseconds ? "a duration such as 30s, or milliseconds" : attribute.unit.rawValue))")
            }
            if let first = attribute.choices.first {
                values[attribute.name] = .text(first)
            } else if attribute.unit != .opcodes && attribute.unit != .text {
                values[attribute.name] = try attribute.decode(.int(attribute.defaultValue), type: type)
            }
        }
        return build(Values(raw: values))
    }

    /// One attribute on its own (the others may be missing yet): which it is and its value, or an
    /// error that names it.
    @discardableResult
    public func check(_ key: String, _ value: JSONValue) throws(ConfigurationError) -> (FaultAttribute, Value) {
        guard let attribute = attributes.first(where: { $0.matches(key) }) else {
            let names = attributes.map(\.name)
            let list = names.isEmpty ? "it takes none" : "it takes \(names.joined(separator: ", "))"
            throw ConfigurationError("unknown attribute '\(key)' for fault \(type)\(String.suggestion(for: FaultCatalog.normalized(key), in: names)); \(list)")
        }
        return (attribute, try attribute.decode(value, type: type))
    }

    /// The kind's attributes as Toxiproxy JSON.
    public func attributesJSON(_ kind: FaultKind) -> JSONObject {
        let values = values(kind)
        var object = JSONObject()
        for attribute in attributes {
            if let value = values[attribute.name] { object[attribute.name] = attribute.encode(value) }
        }
        return object
    }
}

public enum FaultCatalog {
    /// `power-loss` → `power_loss`, case-insensitive.
    public static func normalized(_ name: String) -> String {
        String(name.lowercased().map { $0 == "-" ? "_" : $0 })
    }

    public static let specs: [FaultSpec] = [
        FaultSpec(
            type: .blackhole, scope: .flow, aliases: [], title: "blackhole", attributes: [],
            effect: "a pulled cable: nothing is delivered in the affected direction, no FIN or RST reaches either peer (a FIN is reported as `conn-closed {forwarded: false}`); every byte and the FIN are kept in order (at most 4 MiB per flow: at the bound the sender is paused, as a full window pauses it, and `hold-full` is reported) and delivered on heal to whichever side still has its socket. A connection opened during the outage is accepted, not dialled, its bytes kept; on heal it is dialled and they are delivered, so its upgrade completes as after a SYN retransmission",
            build: { _ in .blackhole }, values: { _ in [:] }
        ),
        FaultSpec(
            type: .hold, scope: .flow, aliases: [], title: "hold",
            attributes: [FaultAttribute("cap_bytes", .bytes, default: 4 << 20, range: 1...(1 << 30), aliases: ["cap"])],
            effect: "the same pulled cable as `blackhole` (kept for its name), with its own bound: at `cap_bytes` the sender is paused and `hold-full` reported; nothing is lost",
            build: { .hold(capBytes: $0.integer("cap_bytes")) },
            values: { kind in
                guard case .hold(let cap) = kind else { return [:] }
                return ["cap_bytes": .integer(Int64(cap))]
            }
        ),
        FaultSpec(
            type: .powerLoss, scope: .connection, aliases: [], title: "power loss", attributes: [],
            effect: "existing connections go silent both ways, their server legs are abandoned without FIN; new connections are accepted and held as in a blackhole (not dialled, bytes kept). After healing, old connections stay dead — the \"rebooted\" host answers their next byte with RST — while the held ones are dialled and delivered, and new connections work",
            build: { _ in .powerLoss }, values: { _ in [:] }
        ),
        FaultSpec(
            type: .latency, scope: .flow, aliases: [], title: "latency",
            attributes: [FaultAttribute("latency", .milliseconds, range: 0...3_600_000), FaultAttribute("jitter", .milliseconds, range: 0...3_600_000)],
            effect: "each chunk delayed by latency ± random(jitter); never reordered",
            build: { .latency(latency: $0.duration("latency"), jitter: $0.duration("jitter")) },
            values: { kind in
                guard case .latency(let latency, let jitter) = kind else { return [:] }
                return ["latency": .duration(latency), "jitter": .duration(jitter)]
            }
        ),
        FaultSpec(
            type: .bandwidth, scope: .flow, aliases: [], title: "bandwidth",
            attributes: [FaultAttribute("rate", .kilobytesPerSecond, range: 0...(1 << 40))],
            effect: "throttled, in chunks of 100 ms worth; 0 means no limit (as Toxiproxy)",
            build: { .bandwidth(kilobytesPerSecond: $0.integer("rate")) },
            values: { kind in
                guard case .bandwidth(let rate) = kind else { return [:] }
                return ["rate": .integer(Int64(rate))]
            }
        ),
        FaultSpec(
            type: .slicer, scope: .flow, aliases: [], title: "slicer",
            attributes: [
                FaultAttribute("average_size", .bytes), FaultAttribute("size_variation", .bytes),
                FaultAttribute("delay", .microseconds, range: 0...3_600_000_000),
            ],
            effect: "data cut into small writes",
            build: { .slicer(averageSize: $0.integer("average_size"), sizeVariation: $0.integer("size_variation"), delay: $0.duration("delay")) },
            values: { kind in
                guard case .slicer(let average, let variation, let delay) = kind else { return [:] }
                return ["average_size": .integer(Int64(average)), "size_variation": .integer(Int64(variation)), "delay": .duration(delay)]
            }
        ),
        FaultSpec(
            type: .limitData, scope: .flow, aliases: [], title: "limit data", attributes: [FaultAttribute("bytes", .bytes)],
            effect: "connection closed (FIN) once that many bytes went through",
            build: { .limitData(bytes: $0.integer("bytes")) },
            values: { kind in
                guard case .limitData(let bytes) = kind else { return [:] }
                return ["bytes": .integer(Int64(bytes))]
            }
        ),
        FaultSpec(
            type: .slowClose, scope: .flow, aliases: [], title: "slow close", attributes: [FaultAttribute("delay", .milliseconds, range: 0...3_600_000)],
            effect: "a FIN is forwarded only after the delay",
            build: { .slowClose(delay: $0.duration("delay")) },
            values: { kind in
                guard case .slowClose(let delay) = kind else { return [:] }
                return ["delay": .duration(delay)]
            }
        ),
        FaultSpec(
            type: .timeout, scope: .flow, aliases: [], title: "timeout", attributes: [FaultAttribute("timeout", .milliseconds, range: 0...3_600_000)],
            effect: "Toxiproxy's, exactly: data dropped (the one fault that loses bytes); with `timeout` > 0 the connection is closed after it, with 0 never; removing the toxic closes every connection it was applied to",
            build: { .timeout($0.duration("timeout")) },
            values: { kind in
                guard case .timeout(let timeout) = kind else { return [:] }
                return ["timeout": .duration(timeout)]
            }
        ),
        FaultSpec(
            type: .resetPeer, scope: .connection, aliases: ["reset"], title: "reset",
            attributes: [FaultAttribute("timeout", .milliseconds, range: 0...3_600_000, aliases: ["after"])],
            effect: "RST (SO_LINGER 0) to both peers after the timeout, also for new connections",
            build: { .reset(after: $0.duration("timeout")) },
            values: { kind in
                guard case .reset(let after) = kind else { return [:] }
                return ["timeout": .duration(after)]
            }
        ),
        FaultSpec(
            type: .close, scope: .connection, aliases: [], title: "close", attributes: [],
            effect: "FIN to both peers at once, and to every new connection: the clean-disconnect case",
            build: { _ in .close }, values: { _ in [:] }
        ),
        FaultSpec(
            type: .refuse, scope: .listener, aliases: [], title: "refuse", attributes: [],
            effect: "the listener is closed: new connections are refused (ECONNREFUSED); existing ones live on; healing listens again on the same port",
            build: { _ in .refuse }, values: { _ in [:] }
        ),
        FaultSpec(
            type: .loss, scope: .flow, aliases: ["packet_loss"], title: "packet loss",
            attributes: [FaultAttribute("percent", .percent, default: 10, range: 0...100)],
            effect: "packet mode only (network: packet): that share of the packets in the affected direction is dropped at random (nftables numgen), on both legs; TCP retransmits them, so the peers see delays and retransmissions, never a hole. A userland proxy never sees packets, so proxy mode and the control API refuse it",
            build: { .loss(percent: $0.integer("percent")) },
            values: { kind in
                guard case .loss(let percent) = kind else { return [:] }
                return ["percent": .integer(Int64(percent))]
            }
        ),
        FaultSpec(
            type: .natExpiry, scope: .connection, aliases: [], title: "NAT expiry",
            attributes: [FaultAttribute("idle", .milliseconds, range: 1...3_600_000, required: true), FaultAttribute("then", choices: ForgottenPackets.allCases.map(\.rawValue))],
            effect: "a NAT or stateful firewall that forgets idle connections: a connection that carried no byte either way for `idle` (counted from its last byte, or from when the fault was added) is forgotten for good — from then on its bytes and its FIN are dropped without a word (`then: drop`), or whichever peer sends next gets RST (`then: reset`); `idle-expired` is reported. New connections get new mappings and live while they are not idle that long; removing the fault forgets nothing more and revives nothing",
            build: { .natExpiry(idle: $0.duration("idle"), then: ForgottenPackets(rawValue: $0.text("then")) ?? .drop) },
            values: { kind in
                guard case .natExpiry(let idle, let then) = kind else { return [:] }
                return ["idle": .duration(idle), "then": .text(then.rawValue)]
            }
        ),
        FaultSpec(
            type: .idleClose, scope: .connection, aliases: [], title: "idle close",
            attributes: [FaultAttribute("idle", .milliseconds, range: 1...3_600_000, required: true), FaultAttribute("with", choices: IdleCloseHow.allCases.map(\.rawValue))],
            effect: "a load balancer's idle timeout (AWS ALB 60 s, nginx `proxy_read_timeout` 60 s, Cloudflare 100 s): a connection that carried no byte either way for `idle` is closed to both peers with FIN (`with: fin`) or RST (`with: rst`); `idle-expired` is reported",
            build: { .idleClose(idle: $0.duration("idle"), with: IdleCloseHow(rawValue: $0.text("with")) ?? .fin) },
            values: { kind in
                guard case .idleClose(let idle, let how) = kind else { return [:] }
                return ["idle": .duration(idle), "with": .text(how.rawValue)]
            }
        ),
        FaultSpec(
            type: .dropFrames, scope: .flow, aliases: [], title: "drop frames",
            attributes: [FaultAttribute("opcodes", .opcodes), FaultAttribute("pattern", .text)],
            effect: "WebSocket-aware: matching frames (or text messages containing the pattern, after unmasking and across fragments) are removed from one direction while everything else flows byte for byte",
            build: { values in
                var opcodes: Set<String> = []
                if case .list(let names)? = values["opcodes"] { opcodes = Set(names) }
                var pattern: String?
                if case .text(let text)? = values["pattern"] { pattern = text }
                return .dropFrames(FrameMatcher(opcodes: opcodes, textPattern: pattern))
            },
            values: { kind in
                guard case .dropFrames(let matcher) = kind else { return [:] }
                var values: [String: FaultSpec.Value] = ["opcodes": .list(matcher.opcodes.sorted())]
                if let pattern = matcher.textPattern { values["pattern"] = .text(pattern) }
                return values
            }
        ),
    ]

    /// Every accepted type name (canonical and aliases).
    public static var typeNames: [String] { specs.flatMap { [$0.type] + $0.aliases } }

    /// The spec of a type name, in any spelling (`power-loss`, `Power_Loss`, `reset`).
    public static func spec(named name: String) throws(ConfigurationError) -> FaultSpec {
        let normalized = normalized(name)
        if let spec = specs.first(where: { $0.type == normalized || $0.aliases.contains(normalized) }) { return spec }
        func hyphens(_ text: String) -> String { String(text.map { $0 == "_" ? "-" : $0 }) }
        let hyphenated = typeNames.map(hyphens)
        if let match = closestMatch(to: hyphens(name), in: hyphenated) {
            throw ConfigurationError("unknown fault '\(name)', did you mean '\(match)'?")
        }
        throw ConfigurationError("unknown fault '\(name)'; faults are \(hyphenated.joined(separator: ", "))")
    }

    /// Each type's entry (a test checks that every ``FaultType`` has exactly one).
    static let byType: [FaultType: FaultSpec] = Dictionary(specs.map { ($0.kindType, $0) }, uniquingKeysWith: { first, _ in first })

    /// The spec of `kind` (the one that writes it back, under its canonical API type).
    public static func spec(of kind: FaultKind) -> FaultSpec {
        guard let spec = byType[kind.type] else { preconditionFailure("the fault catalog has no entry for \(kind.type.rawValue)") }
        return spec
    }

    /// `upstream`, `downstream` or `both`, in any case.
    public static func direction(_ text: String, key: String = "direction") throws(ConfigurationError) -> FaultDirection {
        guard let direction = FaultDirection(rawValue: text.lowercased()) else {
            let names = FaultDirection.allCases.map(\.rawValue)
            throw ConfigurationError("\(key) must be upstream, downstream or both, got '\(text)'\(String.suggestion(for: text.lowercased(), in: names))")
        }
        return direction
    }

    /// `all`, `existing`, `new`, or a connection number from 1.
    public static func target(_ value: JSONValue) throws(ConfigurationError) -> FaultTarget {
        if let n = value.intValue {
            guard n >= 1 else { throw ConfigurationError("target connection number must be at least 1, got \(n)") }
            return .connection(UInt64(n))
        }
        switch value.stringValue.map({ $0.lowercased() }) {
        case "all": return .all
        case "existing": return .existing
        case "new": return .new
        default: throw ConfigurationError("target must be all, existing, new or a connection number, got \(value)")
        }
    }

    /// The table of docs/proxy.md.
    public static var markdownTable: String {
        var lines = ["| fault | API type | attributes | what the peers see |", "|---|---|---|---|"]
        for spec in specs {
            let types = ([spec.type] + spec.aliases).map { "`\($0)`" }.joined(separator: " / ")
            let attributes = spec.attributes.isEmpty ? "—" : spec.attributes.map(\.documentation).joined(separator: ", ")
            lines.append("| \(spec.title) | \(types) | \(attributes) | \(spec.effect) |")
        }
        return lines.joined(separator: "\n")
    }
}
