public import EventSchema

/// A bound written over the scenario's own configuration: `heartbeat.interval + heartbeat.timeout + 50ms`,
/// `reconnect.delay * 2`, `heartbeat.timeout * 90%`, `(reconnect.cap + 100ms) * 1.5`.
public indirect enum DurationExpression: Sendable, Hashable, CustomStringConvertible {
    case duration(Duration)
    case number(Double)
    case variable(String)
    case add(DurationExpression, DurationExpression)
    case subtract(DurationExpression, DurationExpression)
    case multiply(DurationExpression, DurationExpression)
    case divide(DurationExpression, DurationExpression)

    /// The text it was parsed from (kept for reports).
    public var description: String {
        switch self {
        case .duration(let d): d.flatlineDescription
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .variable(let name): name
        case .add(let a, let b): "\(a) + \(b)"
        case .subtract(let a, let b): "\(a) - \(b)"
        case .multiply(let a, let b): "\(a.parenthesized) * \(b.parenthesized)"
        case .divide(let a, let b): "\(a.parenthesized) / \(b.parenthesized)"
        }
    }

    private var parenthesized: String {
        switch self {
        case .add, .subtract: "(\(self))"
        default: description
        }
    }

    /// A value during evaluation: a duration or a plain number.
    public enum Value: Sendable, Equatable {
        case duration(Duration)
        case number(Double)
    }

    public static func parse(_ text: String) throws(ConfigurationError) -> DurationExpression {
        var parser = ExpressionParser(text: text)
        let expression = try parser.parseExpression()
        parser.skipSpaces()
        guard parser.atEnd else { throw ConfigurationError("unexpected '\(parser.rest)' in expression '\(text)'") }
        return expression
    }

    /// The variables the expression names.
    public var variables: [String] {
        switch self {
        case .duration, .number: []
        case .variable(let name): [name]
        case .add(let a, let b), .subtract(let a, let b), .multiply(let a, let b), .divide(let a, let b): a.variables + b.variables
        }
    }

    /// The largest duration a bound may have (30 days): anything larger is a mistake, and keeping
    /// every value far inside `Int64` nanoseconds means no arithmetic on it can overflow.
    public static let maximumDuration = Duration.seconds(30 * 24 * 3600)
    /// The largest plain number (counts, factors).
    public static let maximumNumber = 1e12

    public func evaluate(_ environment: [String: Value]) throws(ConfigurationError) -> Value {
        switch try evaluateUnchecked(environment) {
        case .duration(let nanoseconds): return .duration(.nanoseconds(Int64(nanoseconds.rounded())))
        case .number(let n): return .number(n)
        }
    }

    /// Durations as nanoseconds in a `Double`, every step checked against the bounds.
    private enum Raw {
        case duration(Double)
        case number(Double)
    }

    private func evaluateUnchecked(_ environment: [String: Value]) throws(ConfigurationError) -> Raw {
        func checked(_ raw: Raw) throws(ConfigurationError) -> Raw {
            switch raw {
            case .duration(let ns):
                let limit = Double(Self.maximumDuration.nanoseconds)
                guard ns.isFinite, abs(ns) <= limit else {
                    throw ConfigurationError("'\(self)' is out of range: a bound must be at most \(Self.maximumDuration.flatlineDescription)")
                }
            case .number(let n):
                guard n.isFinite, abs(n) <= Self.maximumNumber else {
                    throw ConfigurationError("'\(self)' is out of range: numbers must be at most 10^12")
                }
            }
            return raw
        }
        switch self {
        case .duration(let d): return try checked(.duration(Double(d.nanoseconds)))
        case .number(let n): return try checked(.number(n))
        case .variable(let name):
            guard let value = environment[name] else {
                let hint = closestMatch(to: name, in: Array(environment.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigurationError("unknown setting '\(name)'\(hint); known: \(environment.keys.sorted().joined(separator: ", "))")
            }
            switch value {
            case .duration(let d): return try checked(.duration(Double(d.nanoseconds)))
            case .number(let n): return try checked(.number(n))
            }
        case .add(let a, let b), .subtract(let a, let b):
            let (x, y) = (try a.evaluateUnchecked(environment), try b.evaluateUnchecked(environment))
            let sign: Double = if case .subtract = self { -1 } else { 1 }
            switch (x, y) {
            case (.duration(let p), .duration(let q)): return try checked(.duration(p + sign * q))
            case (.number(let p), .number(let q)): return try checked(.number(p + sign * q))
            default: throw ConfigurationError("cannot add a duration and a plain number in '\(self)'; write units, e.g. 50ms")
            }
        case .multiply(let a, let b):
            switch (try a.evaluateUnchecked(environment), try b.evaluateUnchecked(environment)) {
            case (.duration(let d), .number(let n)), (.number(let n), .duration(let d)): return try checked(.duration(d * n))
            case (.number(let p), .number(let q)): return try checked(.number(p * q))
            case (.duration, .duration): throw ConfigurationError("cannot multiply two durations in '\(self)'")
            }
        case .divide(let a, let b):
            switch (try a.evaluateUnchecked(environment), try b.evaluateUnchecked(environment)) {
            case (.duration(let d), .number(let n)):
                guard n != 0 else { throw ConfigurationError("division by zero in '\(self)'") }
                return try checked(.duration(d / n))
            case (.number(let p), .number(let q)):
                guard q != 0 else { throw ConfigurationError("division by zero in '\(self)'") }
                return try checked(.number(p / q))
            case (.duration(let p), .duration(let q)):
                guard q != 0 else { throw ConfigurationError("division by zero in '\(self)'") }
                return try checked(.number(p / q))
            case (.number, .duration): throw ConfigurationError("cannot divide a number by a duration in '\(self)'")
            }
        }
    }

    public func duration(_ environment: [String: Value]) throws(ConfigurationError) -> Duration {
        switch try evaluate(environment) {
        case .duration(let d):
            guard d >= .zero else { throw ConfigurationError("'\(self)' is negative (\(d.flatlineDescription)); a bound must be zero or more") }
            return d
        case .number(let n) where n == 0: return .zero
        case .number: throw ConfigurationError("'\(self)' is a plain number, not a duration; add a unit, e.g. 500ms")
        }
    }

    public func number(_ environment: [String: Value]) throws(ConfigurationError) -> Double {
        switch try evaluate(environment) {
        case .number(let n): return n
        case .duration: throw ConfigurationError("'\(self)' is a duration where a plain number is expected")
        }
    }
}

private struct ExpressionParser {
    let scalars: [Unicode.Scalar]
    var index = 0
    let text: String

    init(text: String) {
        self.text = text
        scalars = Array(text.unicodeScalars)
    }

    var atEnd: Bool { index >= scalars.count }
    /// Parentheses open now; deep nesting is refused before it can exhaust the stack.
    var depth = 0
    static let maximumDepth = 32
    var rest: String { String(String.UnicodeScalarView(scalars[index...])) }

    mutating func skipSpaces() { while !atEnd, scalars[index] == " " { index += 1 } }

    mutating func parseExpression() throws(ConfigurationError) -> DurationExpression {
        var left = try parseTerm()
        while true {
            skipSpaces()
            guard !atEnd, scalars[index] == "+" || scalars[index] == "-" else { return left }
            let op = scalars[index]
            index += 1
            let right = try parseTerm()
            left = op == "+" ? .add(left, right) : .subtract(left, right)
        }
    }

    mutating func parseTerm() throws(ConfigurationError) -> DurationExpression {
        var left = try parseFactor()
        while true {
            skipSpaces()
            guard !atEnd, scalars[index] == "*" || scalars[index] == "/" || scalars[index] == "×" else { return left }
            let op = scalars[index]
            index += 1
            let right = try parseFactor()
            left = op == "/" ? .divide(left, right) : .multiply(left, right)
        }
    }

    mutating func parseFactor() throws(ConfigurationError) -> DurationExpression {
        skipSpaces()
        guard !atEnd else { throw ConfigurationError("expression '\(text)' ends too early") }
        let c = scalars[index]
        if c == "-" {
            throw ConfigurationError("negative duration in '\(text)'; durations must be zero or positive")
        }
        if c == "(" {
            index += 1
            depth += 1
            guard depth <= Self.maximumDepth else {
                throw ConfigurationError("expression nested more than \(Self.maximumDepth) parentheses deep")
            }
            defer { depth -= 1 }
            let inner = try parseExpression()
            skipSpaces()
            guard !atEnd, scalars[index] == ")" else { throw ConfigurationError("missing ')' in '\(text)'") }
            index += 1
            return inner
        }
        var token = ""
        while !atEnd {
            let scalar = scalars[index]
            // A hyphen inside a setting name (`reconnect.connect-timeout`) is part of it.
            let hyphenInName = scalar == "-" && token.unicodeScalars.first.map { CharacterSetLetters.contains($0) } == true
                && index + 1 < scalars.count && CharacterSetLetters.contains(scalars[index + 1])
            if !hyphenInName, " +-*/×()".unicodeScalars.contains(scalar) { break }
            token.unicodeScalars.append(scalar)
            index += 1
        }
        guard !token.isEmpty else { throw ConfigurationError("unexpected '\(c)' in '\(text)'") }
        if let first = token.unicodeScalars.first, ("0"..."9").contains(first) || first == "." {
            if token.hasSuffix("%"), let value = Double(token.dropLast()) { return .number(value / 100) }
            if let value = Double(token) { return .number(value) }
            do {
                return .duration(try DurationParser.parse(token))
            } catch {
                throw ConfigurationError("'\(token)' in '\(text)': \(error.message)")
            }
        }
        return .variable(token)
    }
}

private enum CharacterSetLetters {
    static func contains(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }
}
