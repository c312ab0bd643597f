public import EventSchema
public import FaultModel

/// Conversion between ``Fault`` and Toxiproxy's toxic JSON:
/// `{"name", "type", "stream", "toxicity", "attributes": {...}}`, plus Flatline's `target`.
/// Types and attributes come from ``FaultCatalog``.
extension Fault {
    /// Parses a toxic. `defaultStream` is `downstream` in the Toxiproxy API.
    public init(toxic object: JSONObject, defaultStream: FaultDirection = .downstream) throws(ConfigurationError) {
        let known = ["name", "type", "stream", "toxicity", "attributes", "target"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ConfigurationError("unknown toxic field '\(unknown)'\(String.suggestion(for: unknown, in: known)); toxics have \(known.joined(separator: ", "))")
        }
        guard let rawType = object["type"]?.stringValue else { throw ConfigurationError("toxic needs a \"type\" string") }
        let spec = try FaultCatalog.spec(named: rawType)
        var direction = defaultStream
        if let stream = object["stream"] {
            guard let text = stream.stringValue else { throw ConfigurationError("stream must be \"upstream\", \"downstream\" or \"both\", got \(stream)") }
            direction = try FaultCatalog.direction(text, key: "stream")
        }
        var toxicity = 1.0
        if let value = object["toxicity"] {
            guard let number = value.doubleValue else { throw ConfigurationError("toxicity must be a number, got \(value)") }
            toxicity = number
        }
        let target = try object["target"].map { value throws(ConfigurationError) in try FaultCatalog.target(value) } ?? .all
        let attributes: JSONObject
        switch object["attributes"] {
        case nil, .null?: attributes = [:]
        case .object(let o)?: attributes = o
        case let other?: throw ConfigurationError("attributes must be an object, got \(other)")
        }
        let kind = try spec.kind(attributes.map { ($0.key, $0.value) })
        let name: String?
        if let given = object["name"] {
            guard let text = given.stringValue, !text.isEmpty else { throw ConfigurationError("toxic name must be a non-empty string") }
            name = text
        } else {
            name = nil
        }
        self.init(kind, name: name, direction: direction, toxicity: toxicity, target: target)
        try validate()
    }

    /// The fault as Toxiproxy toxic JSON.
    public var toxicJSON: JSONObject {
        [
            "name": .string(name),
            "type": .string(kind.typeName),
            "stream": .string(direction.rawValue),
            "toxicity": .double(toxicity),
            "attributes": .object(FaultCatalog.spec(of: kind).attributesJSON(kind)),
            "target": target.jsonValue,
        ]
    }
}
