public import EventSchema

/// Conversion between ``Fault`` and Toxiproxy's toxic JSON:
/// `{"name", "type", "stream", "toxicity", "attributes": {...}}`, plus Flatline's `target`.
extension Fault {
    /// Every accepted type name: Toxiproxy's and Flatline's own (with `-` or `_`).
    public static let typeNames = [
        "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data",
        "blackhole", "hold", "power_loss", "reset", "close", "refuse", "drop_frames",
    ]

    static let attributeNames: [String: [String]] = [
        "latency": ["latency", "jitter"],
        "bandwidth": ["rate"],
        "slow_close": ["delay"],
        "timeout": ["timeout"],
        "reset_peer": ["timeout"],
        "reset": ["timeout"],
        "slicer": ["average_size", "size_variation", "delay"],
        "limit_data": ["bytes"],
        "blackhole": [],
        "hold": ["cap_bytes"],
        "power_loss": [],
        "close": [],
        "refuse": [],
        "drop_frames": ["opcodes", "pattern"],
    ]

    /// Normalises a type name: `power-loss` → `power_loss`, case-insensitive.
    public static func normalizedTypeName(_ name: String) -> String {
        String(name.lowercased().map { $0 == "-" ? "_" : $0 })
    }

    /// Parses a toxic. `defaultStream` is `downstream` in the Toxiproxy API.
    public init(toxic object: JSONObject, defaultStream: FaultDirection = .downstream) throws(ConfigurationError) {
        let known = ["name", "type", "stream", "toxicity", "attributes", "target"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ConfigurationError("unknown toxic field '\(unknown)'\(Self.suggest(unknown, known)); toxics have \(known.joined(separator: ", "))")
        }
        guard let rawType = object["type"]?.stringValue else { throw ConfigurationError("toxic needs a \"type\" string") }
        let type = Self.normalizedTypeName(rawType)
        guard let allowed = Self.attributeNames[type] else {
            throw ConfigurationError("unknown toxic type '\(rawType)'\(Self.suggest(type, Self.typeNames)); use one of \(Self.typeNames.joined(separator: ", "))")
        }
        var direction = defaultStream
        if let stream = object["stream"] {
            guard let text = stream.stringValue, let parsed = FaultDirection(rawValue: text.lowercased()) else {
                throw ConfigurationError("stream must be \"upstream\", \"downstream\" or \"both\", got \(stream)")
            }
            direction = parsed
        }
        var toxicity = 1.0
        if let value = object["toxicity"] {
            guard let number = value.doubleValue else { throw ConfigurationError("toxicity must be a number, got \(value)") }
            toxicity = number
        }
        var target = FaultTarget.all
        if let value = object["target"] {
            target = try Self.parseTarget(value)
        }
        let attributes: JSONObject
        switch object["attributes"] {
        case nil, .null?: attributes = [:]
        case .object(let o)?: attributes = o
        case let other?: throw ConfigurationError("attributes must be an object, got \(other)")
        }
        if let unknown = attributes.keys.first(where: { !allowed.contains($0) }) {
            let list = allowed.isEmpty ? "it takes none" : "it takes \(allowed.joined(separator: ", "))"
            throw ConfigurationError("unknown attribute '\(unknown)' for toxic type \(type)\(Self.suggest(unknown, allowed)); \(list)")
        }
        let kind = try Self.kind(type: type, attributes: attributes)
        let name: String
        if let given = object["name"] {
            guard let text = given.stringValue, !text.isEmpty else { throw ConfigurationError("toxic name must be a non-empty string") }
            name = text
        } else {
            name = "\(type)_\(direction.rawValue)"
        }
        self.init(kind, name: name, direction: direction, toxicity: toxicity, target: target)
        try validate()
    }

    static func parseTarget(_ value: JSONValue) throws(ConfigurationError) -> FaultTarget {
        if let n = value.intValue {
            guard n >= 1 else { throw ConfigurationError("target connection number must be at least 1") }
            return .connection(UInt64(n))
        }
        switch value.stringValue {
        case "all": return .all
        case "existing": return .existing
        case "new": return .new
        default: throw ConfigurationError("target must be \"all\", \"existing\", \"new\" or a connection number, got \(value)")
        }
    }

    static func suggest(_ word: String, _ candidates: [String]) -> String {
        closestMatch(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    private static func kind(type: String, attributes: JSONObject) throws(ConfigurationError) -> FaultKind {
        func integer(_ key: String, default value: Int64) throws(ConfigurationError) -> Int64 {
            guard let raw = attributes[key] else { return value }
            guard let number = raw.intValue else { throw ConfigurationError("attribute \(key) of \(type) must be an integer, got \(raw)") }
            guard number >= 0 else { throw ConfigurationError("attribute \(key) of \(type) must not be negative, got \(number)") }
            guard number <= 1 << 40 else { throw ConfigurationError("attribute \(key) of \(type) is absurdly large: \(number)") }
            return number
        }
        func milliseconds(_ key: String, default value: Int64 = 0) throws(ConfigurationError) -> Duration {
            .milliseconds(try integer(key, default: value))
        }
        switch type {
        case "latency":
            return .latency(latency: try milliseconds("latency"), jitter: try milliseconds("jitter"))
        case "bandwidth":
            return .bandwidth(kilobytesPerSecond: Int(try integer("rate", default: 0)))
        case "slow_close":
            return .slowClose(delay: try milliseconds("delay"))
        case "timeout":
            let timeout = try milliseconds("timeout")
            // Toxiproxy's `timeout: 0` never closes: that is a blackhole, and Flatline's can be healed.
            return timeout == .zero ? .blackhole : .timeout(timeout)
        case "reset_peer", "reset":
            return .reset(after: try milliseconds("timeout"))
        case "slicer":
            return .slicer(
                averageSize: Int(try integer("average_size", default: 0)),
                sizeVariation: Int(try integer("size_variation", default: 0)),
                delay: .microseconds(try integer("delay", default: 0))
            )
        case "limit_data":
            return .limitData(bytes: Int(try integer("bytes", default: 0)))
        case "hold":
            return .hold(capBytes: Int(try integer("cap_bytes", default: 4 << 20)))
        case "blackhole":
            return .blackhole
        case "power_loss":
            return .powerLoss
        case "close":
            return .close
        case "refuse":
            return .refuse
        case "drop_frames":
            var opcodes: Set<String> = []
            if let raw = attributes["opcodes"] {
                let list: [JSONValue]
                if let array = raw.arrayValue { list = array } else { list = [raw] }
                for item in list {
                    guard let text = item.stringValue else { throw ConfigurationError("drop_frames opcodes must be strings, got \(item)") }
                    opcodes.insert(text.lowercased())
                }
            }
            var pattern: String?
            if let raw = attributes["pattern"] {
                guard let text = raw.stringValue else { throw ConfigurationError("drop_frames pattern must be a string, got \(raw)") }
                pattern = text
            }
            return .dropFrames(FrameMatcher(opcodes: opcodes, textPattern: pattern))
        default:
            throw ConfigurationError("unknown toxic type '\(type)'")
        }
    }

    /// The fault as Toxiproxy toxic JSON.
    public var toxicJSON: JSONObject {
        var attributes = JSONObject()
        func ms(_ d: Duration) -> JSONValue { .int(d.nanoseconds / 1_000_000) }
        switch kind {
        case .latency(let latency, let jitter):
            attributes["latency"] = ms(latency)
            attributes["jitter"] = ms(jitter)
        case .bandwidth(let rate): attributes["rate"] = .int(Int64(rate))
        case .slowClose(let delay): attributes["delay"] = ms(delay)
        case .timeout(let timeout): attributes["timeout"] = ms(timeout)
        case .reset(let after): attributes["timeout"] = ms(after)
        case .slicer(let average, let variation, let delay):
            attributes["average_size"] = .int(Int64(average))
            attributes["size_variation"] = .int(Int64(variation))
            attributes["delay"] = .int(delay.nanoseconds / 1000)
        case .limitData(let bytes): attributes["bytes"] = .int(Int64(bytes))
        case .hold(let cap): attributes["cap_bytes"] = .int(Int64(cap))
        case .dropFrames(let matcher):
            attributes["opcodes"] = .array(matcher.opcodes.sorted().map { .string($0) })
            if let pattern = matcher.textPattern { attributes["pattern"] = .string(pattern) }
        case .blackhole, .powerLoss, .close, .refuse:
            break
        }
        return [
            "name": .string(name),
            "type": .string(kind.typeName),
            "stream": .string(direction.rawValue),
            "toxicity": .double(toxicity),
            "attributes": .object(attributes),
            "target": target.jsonValue,
        ]
    }
}
