import Foundation
import EventSchema
import FaultModel

/// Toxiproxy's config file, with Flatline's extension: `toxics` applied at start.
public enum ProxyConfigFile {
    /// Creates the proxies of a config file (and applies their toxics). Errors name the file and place.
    public static func load(path: String, into registry: ProxyRegistry) async throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(path): cannot read the file")
        }
        let bytes = [UInt8](data)
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch {
            let (line, column) = lineAndColumn(of: error.offset, in: bytes)
            throw ConfigurationError("\(path):\(line):\(column): \(error.message)")
        }
        guard let items = value.arrayValue else {
            throw ConfigurationError("\(path): expected a JSON array of proxies, e.g. [{\"name\": \"ws\", \"listen\": \"127.0.0.1:0\", \"upstream\": \"127.0.0.1:8080\"}]")
        }
        for (index, item) in items.enumerated() {
            let whereText = "\(path): proxy \(index)"
            guard let object = item.objectValue else { throw ConfigurationError("\(whereText): not an object") }
            let allowed = ["name", "listen", "upstream", "enabled", "toxics"]
            if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
                let hint = closestMatch(to: unknown, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigurationError("\(whereText): unknown field '\(unknown)'\(hint)")
            }
            guard let name = object["name"]?.stringValue else { throw ConfigurationError("\(whereText): missing \"name\"") }
            guard let upstream = object["upstream"]?.stringValue else { throw ConfigurationError("\(whereText) (\(name)): missing \"upstream\"") }
            let listen = object["listen"]?.stringValue ?? "127.0.0.1:0"
            let proxy = try await registry.create(
                name: name, listen: try HostPort(parsing: listen), upstream: try HostPort(parsing: upstream),
                enabled: object["enabled"]?.boolValue ?? true
            )
            for (toxicIndex, toxic) in (object["toxics"]?.arrayValue ?? []).enumerated() {
                guard let toxicObject = toxic.objectValue else { throw ConfigurationError("\(whereText) (\(name)): toxic \(toxicIndex) is not an object") }
                do {
                    try await proxy.add(try Fault(toxic: toxicObject))
                } catch let error as ConfigurationError {
                    throw ConfigurationError("\(whereText) (\(name)): toxic \(toxicIndex): \(error.message)")
                }
            }
        }
    }

    public static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1, column = 1
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
