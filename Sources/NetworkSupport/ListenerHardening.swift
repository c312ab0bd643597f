public import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What every Flatline listener (proxy, control API, server) gets: a report of every connection it
/// accepted but could not serve, and no busy loop when the process runs out of descriptors.
///
/// SwiftNIO keeps a listening socket registered for reads after `accept` fails with EMFILE, so the
/// loop would spin at 100% CPU (its accept back-off cannot help: no read is requested meanwhile).
/// The listener's owner is told instead (`exhausted`): it closes the listener, which refuses new
/// connections as a full server does, and listens again after a pause.
public enum ListenerHardening {
    /// After the bind: reports errors that reach the end of the listener's pipeline (a connection
    /// whose setup failed, an accept error), each distinct message at most once a second; calls
    /// `exhausted` (once) when descriptors have run out.
    public static func watch(
        _ channel: any Channel, report: @escaping @Sendable (String) -> Void, exhausted: @escaping @Sendable () -> Void
    ) async {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(AcceptFailureReporter(report: report, exhausted: exhausted))
        }.get()
    }

    /// How long a listener stays closed after running out of descriptors.
    public static let pause = TimeAmount.milliseconds(200)

    static func isExhaustion(_ error: any Error) -> Bool {
        guard let io = error as? IOError else { return false }
        return io.errnoCode == EMFILE || io.errnoCode == ENFILE || io.errnoCode == ENOBUFS || io.errnoCode == ENOMEM
    }
}

private final class AcceptFailureReporter: ChannelInboundHandler {
    typealias InboundIn = any Channel

    let report: @Sendable (String) -> Void
    let exhausted: @Sendable () -> Void
    private var lastReported: [String: NIODeadline] = [:]
    private var toldExhausted = false

    init(report: @escaping @Sendable (String) -> Void, exhausted: @escaping @Sendable () -> Void) {
        self.report = report
        self.exhausted = exhausted
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let detail = "\(error)"
        let now = NIODeadline.now()
        if lastReported[detail].map({ now - $0 >= .seconds(1) }) ?? true {
            lastReported[detail] = now
            report(ListenerHardening.isExhaustion(error) ? "\(detail); listening again in \(ListenerHardening.pause.nanoseconds / 1_000_000) ms" : detail)
        }
        if ListenerHardening.isExhaustion(error), !toldExhausted {
            toldExhausted = true
            exhausted()
        }
    }
}
