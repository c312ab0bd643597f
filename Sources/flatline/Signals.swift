import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls `handler` once on the first SIGINT or SIGTERM; a second signal exits at once.
final class TerminationSignals: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "flatline.signals")
    private var fired = false

    init(_ handler: @escaping @Sendable (Int32) -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                if self.fired { exit(130) }
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
