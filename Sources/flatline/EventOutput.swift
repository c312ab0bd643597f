import NIOConcurrencyHelpers
import ArgumentParser
import EventSchema
import HeartbeatCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How events are printed on standard output.
enum EventFormat: String, ExpressibleByArgument, CaseIterable {
    /// One JSON object per line, in the event schema.
    case jsonl
    /// One aligned human-readable line per event.
    case text
}

/// Writes whole lines straight to a file descriptor, so that a reader on a pipe sees each event
/// as soon as it happens (no stdio buffering).
struct LineWriter: Sendable {
    let fd: Int32

    static let standardOutput = LineWriter(fd: 1)
    static let standardError = LineWriter(fd: 2)

    /// The first write that failed on standard output (a full disk, a closed pipe): the output is
    /// incomplete, and a command must not then exit 0.
    static let outputFailure = NIOLockedValueBox<String?>(nil)

    func write(_ line: String) {
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
                if fd == 1 { Self.outputFailure.withLockedValue { if $0 == nil { $0 = problem } } }
                return
            }
            offset += written
        }
    }

    func write(_ record: EventRecord, format: EventFormat) {
        write(format == .jsonl ? record.jsonLine : record.humanLine)
    }
}

extension ConfigurationError {
    /// Turns a configuration problem into a command-line validation error (exit code 64, usage hint).
    var validationError: ValidationError { ValidationError(message) }
}

/// Parses a duration option, naming the option in the error.
func parseDuration(_ text: String, option: String) throws -> Duration {
    do {
        return try DurationParser.parse(text)
    } catch {
        throw ValidationError("\(option): \(error.message)")
    }
}
