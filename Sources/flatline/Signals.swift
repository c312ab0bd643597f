import Dispatch
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls `handler` once on the first SIGINT, SIGTERM or SIGHUP; a second signal ends every child
/// process group and exits at once (128 + the signal).
final class TerminationSignals: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "flatline.signals")
    private var fired = false

    static let handled: [(Int32, String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]
    static func name(_ number: Int32) -> String { handled.first { $0.0 == number }?.1 ?? "signal \(number)" }
    static func number(_ name: String) -> Int32 { handled.first { $0.1 == name }?.0 ?? SIGTERM }

    init(_ handler: @escaping @Sendable (Int32) -> Void) {
        for (signalNumber, _) in Self.handled {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                if self.fired {
                    ScenarioProcesses.killAll()
                    exit(128 + signalNumber)
                }
                self.fired = true
                handler(signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// Waits for Ctrl-C / SIGTERM, or for `runFor` to pass when given.
func waitUntilStopped(runFor: Duration?) async {
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

/// Calls `handler` on every delivery of `signalNumber` (for SIGUSR1/SIGUSR2 controls).
final class SignalWatch: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    init(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "flatline.signal.\(signalNumber)"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// The path of the running executable (for starting `flatline server` as a child).
func currentExecutablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
