public import EventSchema

/// How much to widen `within` bounds on slow machines: bound × (1 + fraction) + fixed.
public struct Slack: Sendable, Hashable, CustomStringConvertible {
    public var fraction: Double
    public var fixed: Duration

    public init(fraction: Double = 0, fixed: Duration = .zero) {
        self.fraction = fraction
        self.fixed = fixed
    }

    public static let none = Slack()

    /// `50ms`, `20%`, or `20%+50ms`.
    public init(parsing text: String) throws(ConfigurationError) {
        self.init()
        for part in text.split(separator: "+") {
            let item = String(part).trimmingCharacters(in: Character(" "))
            if item.hasSuffix("%") {
                guard let value = Double(item.dropLast()), value >= 0, value <= 1000 else { throw ConfigurationError("invalid slack '\(text)'; e.g. 20% or 50ms (at most 1000%)") }
                fraction += value / 100
            } else {
                fixed += try DurationParser.parse(item)
                guard fixed <= Self.maximumFixed else { throw ConfigurationError("slack '\(text)' is more than an hour") }
            }
        }
    }

    /// The fixed part is at most an hour (so that widening never overflows).
    static let maximumFixed = Duration.seconds(3600)

    public func widen(_ bound: Duration) -> Duration { bound.scaled(by: 1 + fraction) + fixed }

    public var description: String {
        var parts: [String] = []
        if fraction > 0 { parts.append("\(Int((fraction * 100).rounded()))%") }
        if fixed > .zero { parts.append(fixed.flatlineDescription) }
        return parts.isEmpty ? "0" : parts.joined(separator: "+")
    }
}
