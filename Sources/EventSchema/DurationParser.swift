/// Parses human durations: `400ms`, `1.5s`, `2m`, `1m30s`, `250us`, `0`. Units: `ns`, `us`/`µs`,
/// `ms`, `s`, `m`, `h`. A bare number is rejected (except `0`) because `400` is ambiguous.
public enum DurationParser {
    public static func parse(_ text: String) throws(ConfigurationError) -> Duration {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw ConfigurationError("empty duration; write it with a unit, e.g. '400ms' or '2s'") }
        if trimmed.hasPrefix("-") {
            throw ConfigurationError("negative duration '\(text)'; durations must be zero or positive")
        }
        if trimmed == "0" { return .zero }
        var total = 0.0
        var scalars = Array(trimmed.unicodeScalars)
        scalars.removeAll(where: { $0 == " " })
        var index = 0
        var sawComponent = false
        while index < scalars.count {
            var number = ""
            while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." {
                number.unicodeScalars.append(scalars[index])
                index += 1
            }
            var unit = ""
            while index < scalars.count, !("0"..."9").contains(scalars[index]), scalars[index] != "." {
                unit.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard let value = Double(number) else {
                throw ConfigurationError("invalid duration '\(text)'; expected a number with a unit, e.g. '400ms' or '2s'")
            }
            let nanosPerUnit: Double
            switch unit.lowercased() {
            case "ns": nanosPerUnit = 1
            case "us", "µs": nanosPerUnit = 1e3
            case "ms": nanosPerUnit = 1e6
            case "s", "sec": nanosPerUnit = 1e9
            case "m", "min": nanosPerUnit = 60e9
            case "h": nanosPerUnit = 3600e9
            case "":
                throw ConfigurationError("duration '\(text)' has no unit; write e.g. '\(number)ms' or '\(number)s'")
            default:
                throw ConfigurationError("unknown unit '\(unit)' in duration '\(text)'; use ns, us, ms, s, m or h")
            }
            total += value * nanosPerUnit
            sawComponent = true
        }
        guard sawComponent else { throw ConfigurationError("invalid duration '\(text)'") }
        guard total < 9.2e18 else { throw ConfigurationError("duration '\(text)' is too large") }
        return .nanoseconds(Int64(total.rounded()))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
