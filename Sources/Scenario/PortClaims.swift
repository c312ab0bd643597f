import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The ports one scenario's world holds — its server's and its proxies' — from before they bind
/// until its teardown has ended (packet rules deleted, server finished). Scenarios run side by side
/// (`--jobs`) take their ports here, not from a bare bind to port 0: the kernel would hand one
/// scenario a port another has just let go of — a server between `server: stop` and `start`, a
/// proxy whose packet rules are still being deleted, a port picked for a `{port}` server that has
/// not bound it yet — and the two would share a server or a rule without knowing it.
final class PortClaims: Sendable {
    /// Every port a live world of this process holds.
    private static let held = NIOLockedValueBox<Set<Int>>([])
    private let mine = NIOLockedValueBox<Set<Int>>([])

    /// A port nothing on this machine is bound to now (bound on 127.0.0.1:0, then let go) and no
    /// other world of this process holds; this world's until `releaseAll()`.
    func take() throws -> Int {
        for _ in 0..<64 {
            let port = try Self.unbound()
            if Self.held.withLockedValue({ $0.insert(port).inserted }) {
                mine.withLockedValue { _ = $0.insert(port) }
                return port
            }
        }
        throw ChildError("cannot find a free port: the kernel offered 64 in a row that other scenarios of this run hold")
    }

    /// The ports this world holds now.
    var ports: Set<Int> { mine.withLockedValue { $0 } }

    /// Whether any world of this process holds `port`.
    static func isHeld(_ port: Int) -> Bool { held.withLockedValue { $0.contains(port) } }

    /// Lets this world's ports go (at the end of its teardown).
    func releaseAll() {
        let ports = mine.withLockedValue { ports in
            defer { ports.removeAll() }
            return ports
        }
        Self.held.withLockedValue { $0.subtract(ports) }
    }

    /// A port the kernel offers for 127.0.0.1:0, let go at once.
    static func unbound() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChildError("cannot find a free port: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw ChildError("cannot find a free port: \(String(cString: strerror(errno)))") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
