/// A point on a monotonic timeline, in nanoseconds from an origin chosen by whoever drives the
/// state machines (an event loop's uptime clock, a test's manual clock). HeartbeatCore never reads
/// a clock itself: every input carries the instant at which it happened.
public struct Instant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func milliseconds(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { Duration.nanoseconds(nanoseconds).flatlineDescription }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64` bounds.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns &+ attoseconds / 1_000_000_000
    }

    /// Milliseconds as a floating-point number (for events and reports).
    public var milliseconds: Double { Double(nanoseconds) / 1_000_000 }

    /// Seconds as a floating-point number (rates, JUnit times).
    public var seconds: Double { milliseconds / 1000 }

    /// Scales a duration by a real factor (backoff multipliers, jitter, tolerances).
    public func scaled(by factor: Double) -> Duration {
        let value = Double(nanoseconds) * factor
        if value >= Double(Int64.max) { return .nanoseconds(Int64.max) }
        if value <= Double(Int64.min) { return .nanoseconds(Int64.min) }
        return .nanoseconds(Int64(value.rounded()))
    }

    /// A short human form in the same notation the parser accepts: `400ms`, `1.5s`, `2m`.
    public var flatlineDescription: String {
        let ns = nanoseconds
        let sign = ns < 0 ? "-" : ""
        let magnitude = ns.magnitude
        func trim(_ value: Double) -> String {
            var text = String(format: value)
            if text.hasSuffix(".0") { text.removeLast(2) }
            return text
        }
        if magnitude == 0 { return "0ms" }
        if magnitude % 60_000_000_000 == 0 { return "\(sign)\(magnitude / 60_000_000_000)m" }
        if magnitude >= 1_000_000_000 { return sign + trim(Double(magnitude) / 1e9) + "s" }
        if magnitude >= 1_000_000 { return sign + trim(Double(magnitude) / 1e6) + "ms" }
        if magnitude >= 1_000 { return sign + trim(Double(magnitude) / 1e3) + "us" }
        return "\(sign)\(magnitude)ns"
    }
}

extension String {
    /// Formats a double with at most three decimals and no exponent.
    init(format value: Double) {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() && abs(rounded) < 1e15 {
            self = String(Int64(rounded)) + ".0"
        } else {
            self = String(rounded)
        }
    }
}
