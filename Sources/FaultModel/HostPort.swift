public import EventSchema

/// `host:port` or `[v6]:port`.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ConfigurationError) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else {
                throw ConfigurationError("invalid address '\(text)': expected [HOST]:PORT")
            }
            self.port = port
        } else {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
                throw ConfigurationError("invalid address '\(text)': expected HOST:PORT, e.g. 127.0.0.1:8080")
            }
            host = String(text[..<colon])
            self.port = port
        }
        if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
        // `0` is the unspecified address in disguise: say what it is.
        if host == "0" || host == "0.0.0.0" { host = "0.0.0.0" }
        guard (0...65535).contains(port) else { throw ConfigurationError("invalid address '\(text)': port \(port) is outside 0–65535") }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach it (127.0.0.0/8 or ::1).
    public var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }

    /// Why listening here deserves a warning, or nil (every interface, or a non-loopback one).
    public var exposure: String? {
        if host == "0.0.0.0" || host == "::" { return "listening on every interface (\(self)): other hosts can reach it" }
        if !isLoopback { return "listening on \(self), which other hosts may reach" }
        return nil
    }
}
