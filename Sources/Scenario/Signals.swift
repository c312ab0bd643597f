import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls `handler` once on the first SIGINT, SIGTERM or SIGHUP; a second signal ends every child
/// process group and exits at once (128 + the signal).
public final class TerminationSignals: Sendable {
    /// Dispatch's sources are not marked Sendable; they are only set here and cancelled.
    private let sources = Mutex<[any DispatchSourceSignal]>([])
    private let fired = Atomic(false)

    public static let handled: [(Int32, String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]
    public static func name(_ number: Int32) -> String { handled.first { $0.0 == number }?.1 ?? "signal \(number)" }
    public static func number(_ name: String) -> Int32 { handled.first { $0.1 == name }?.0 ?? SIGTERM }

    public init(_ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "flatline.signals")
        sources.withLock { sources in
            for (signalNumber, _) in Self.handled {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
                source.setEventHandler { [unowned self] in
                    if self.fired.exchange(true, ordering: .relaxed) {
                        ScenarioProcesses.killAll()
                        exit(128 + signalNumber)
                    }
                    handler(signalNumber)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    public func cancel() {
        sources.withLock { for source in $0 { source.cancel() } }
    }
}

/// Calls `handler` on every delivery of `signalNumber` (for SIGUSR1/SIGUSR2 controls).
public final class SignalWatch: Sendable {
    private let source: Mutex<any DispatchSourceSignal>

    public init(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        let made = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "flatline.signal.\(signalNumber)"))
        made.setEventHandler(handler: handler)
        made.resume()
        source = Mutex(made)
    }

    public func cancel() { source.withLock { $0.cancel() } }
}

/// Waits for Ctrl-C / SIGTERM, or for `runFor` to pass when given.
public func waitUntilStopped(runFor: Duration?) async {
    let stop = AsyncStream<Void>.makeStream()
    let signals = TerminationSignals { _ in stop.continuation.finish() }
    defer { signals.cancel() }
    if let runFor {
        Task {
            try? await Task.sleep(for: runFor)
            stop.continuation.finish()
        }
    }
    for await _ in stop.stream {}
}

/// The path of the running executable (for starting `flatline server` as a child).
public func currentExecutablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
