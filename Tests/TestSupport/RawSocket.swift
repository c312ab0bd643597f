#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A plain blocking TCP socket on 127.0.0.1, to look at what a peer really sees:
/// data, EOF, a reset, or nothing (a read that would block).
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32

    public enum ReadResult: Equatable, Sendable, CustomStringConvertible {
        case data([UInt8])
        case wouldBlock
        case eof
        case error(Int32)

        public var description: String {
            switch self {
            case .data(let bytes): "data(\(bytes.count) bytes)"
            case .wouldBlock: "would block"
            case .eof: "EOF"
            case .error(let code): "error \(code) (\(String(cString: strerror(code))))"
            }
        }
    }

    init(fd: Int32) {
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Connects to 127.0.0.1:`port`; throws the errno (e.g. ECONNREFUSED) on failure.
    public static func connect(port: Int) throws -> RawSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            let code = errno
            Glibc.close(fd)
            throw SocketError(code: code)
        }
        return RawSocket(fd: fd)
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError(code: errno)
            }
            offset += n
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads what is there now, without blocking.
    public func readNow(max: Int = 65536) -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, Int32(MSG_DONTWAIT)) }
        if n > 0 { return .data(Array(buffer[0..<n])) }
        if n == 0 { return .eof }
        let code = errno
        return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .error(code)
    }

    /// Waits up to `timeout` for something to read (data, EOF or an error), then reads it.
    /// Returns `.wouldBlock` if nothing happened in that time.
    public func read(timeout: Duration, max: Int = 65536) -> ReadResult {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&poller, 1, ms)
        if ready <= 0 { return .wouldBlock }
        return readNow(max: max)
    }

    /// Reads until `count` bytes arrived or `timeout` passed.
    public func read(exactly count: Int, timeout: Duration) -> [UInt8] {
        var collected: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while collected.count < count, ContinuousClock.now < deadline {
            if case .data(let bytes) = read(timeout: deadline - ContinuousClock.now, max: count - collected.count) {
                collected += bytes
            } else {
                break
            }
        }
        return collected
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with RST (SO_LINGER 0).
    public func reset() {
        var value = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

public struct SocketError: Error, CustomStringConvertible, Equatable {
    public var code: Int32
    public init(code: Int32) { self.code = code }
    public var description: String { "errno \(code): \(String(cString: strerror(code)))" }
}

/// A listening socket on 127.0.0.1 port 0 that accepts with a deadline.
public final class RawListener: @unchecked Sendable {
    public let fd: Int32
    public let port: Int

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = RawSocket.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else { throw SocketError(code: errno) }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { Glibc.close(fd) }

    /// The next connection, or nil if none arrived within `timeout`.
    public func accept(timeout: Duration) -> RawSocket? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&poller, 1, ms) > 0 else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        return client >= 0 ? RawSocket(fd: client) : nil
    }
}

/// Runs blocking work on its own thread (never on the cooperative pool) and awaits its result.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
