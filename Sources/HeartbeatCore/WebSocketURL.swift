public import EventSchema

/// A `ws://host:port/path` address. `wss://` is refused with a clear message: Flatline tests
/// heartbeat logic over plain TCP on loopback.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var path: String

    public init(host: String, port: Int, path: String = "/") {
        self.host = host
        self.port = port
        self.path = path
    }

    public init(parsing text: String) throws(ConfigurationError) {
        let hint = "expected ws://HOST:PORT/PATH, e.g. ws://127.0.0.1:8080/ws"
        var rest = Substring(text.trimmingCharacters)
        if rest.lowercased().hasPrefix("wss://") {
            throw ConfigurationError("invalid URL '\(text)': wss:// (TLS) is not supported; use ws://")
        }
        guard rest.lowercased().hasPrefix("ws://") else {
            throw ConfigurationError("invalid URL '\(text)': the scheme must be ws://; \(hint)")
        }
        rest = rest.dropFirst(5)
        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = String(rest[slash...])
        } else {
            authority = rest
            path = "/"
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw ConfigurationError("invalid URL '\(text)': unterminated IPv6 address")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()) else {
                throw ConfigurationError("invalid URL '\(text)': missing port; \(hint)")
            }
            self.port = port
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigurationError("invalid URL '\(text)': missing host or port; \(hint)")
            }
            host = String(parts[0])
            guard let port = Int(parts[1]) else {
                throw ConfigurationError("invalid URL '\(text)': port '\(parts[1])' is not a number")
            }
            self.port = port
        }
        guard (1...65535).contains(port) else {
            throw ConfigurationError("invalid URL '\(text)': port \(port) is outside 1–65535")
        }
        guard !host.isEmpty else { throw ConfigurationError("invalid URL '\(text)': empty host; \(hint)") }
    }

    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "ws://\(hostPart):\(port)\(path)"
    }
}

extension String {
    fileprivate var trimmingCharacters: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
