public import EventSchema
public import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The bridges between Flatline's clock-free instants and NIO's deadlines, and the wall clock
// that heartbeats carry.

extension Instant {
    /// The instant of a NIO deadline (both count on the monotonic uptime clock).
    public init(_ deadline: NIODeadline) {
        self.init(nanoseconds: Int64(clamping: deadline.uptimeNanoseconds))
    }

    /// The current instant of an event loop: fake time on an `EmbeddedEventLoop`, uptime otherwise.
    public static func now(on loop: any EventLoop) -> Instant { Instant(loop.now) }

    /// The current instant on the process's monotonic clock.
    public static var now: Instant { Instant(NIODeadline.now()) }

    public var nioDeadline: NIODeadline { .uptimeNanoseconds(UInt64(max(nanoseconds, 0))) }
}

extension Duration {
    public var timeAmount: TimeAmount { .nanoseconds(nanoseconds) }
}

/// Milliseconds since the Unix epoch, for the timestamps heartbeats carry.
public func epochMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
