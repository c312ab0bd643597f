import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole lines straight to a file descriptor, so that a reader on a pipe sees each event
/// as soon as it happens (no stdio buffering).
public struct LineWriter: Sendable {
    let fd: Int32

    public static let standardOutput = LineWriter(fd: 1)
    public static let standardError = LineWriter(fd: 2)

    /// The first write that failed on standard output (a full disk, a closed pipe): the output is
    /// incomplete, and a command must not then exit 0.
    public static var outputFailure: String? { failure.withLock { $0 } }
    private static let failure = Mutex<String?>(nil)

    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let problem = String(cString: strerror(errno))
                if fd == 1 { Self.failure.withLock { if $0 == nil { $0 = problem } } }
                return
            }
            offset += written
        }
    }
}
