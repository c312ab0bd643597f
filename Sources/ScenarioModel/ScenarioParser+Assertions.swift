import FaultModel
import Foundation
import EventSchema
import HeartbeatCore

// Assertions over the whole run.
extension ScenarioParser {
    // MARK: Assertions

    func assertion(_ node: YAMLValue, environment: [String: DurationExpression.Value]) throws(ScenarioError) -> Assertion {
        let text = try node.string("an assertion such as 'max-concurrent client connections <= 1'")
        func split(_ text: String) throws(ScenarioError) -> (String, Assertion.Comparison, DurationExpression) {
            for op in ["<=", ">=", "==", "<", ">"] {
                if let range = text.range(of: " \(op) ") {
                    let left = String(text[..<range.lowerBound])
                    let right = String(text[range.upperBound...])
                    do {
                        let expression = try DurationExpression.parse(right)
                        _ = try expression.evaluate(environment)
                        return (left, Assertion.Comparison(rawValue: op)!, expression)
                    } catch {
                        throw node.error(error.message)
                    }
                }
            }
            throw node.error("expected a comparison (<=, <, >=, >, ==) with spaces around it in '\(text)'")
        }
        func eventPattern(_ text: String) throws(ScenarioError) -> EventPattern {
            do { return try EventPattern.parse(text) } catch { throw node.error(error.message) }
        }
        let kind: Assertion.Kind
        if text.hasPrefix("count ") {
            let (left, op, right) = try split(String(text.dropFirst(6)))
            kind = .count(try eventPattern(left), op, right)
        } else if text.hasPrefix("max-concurrent ") {
            let (left, op, right) = try split(text)
            guard left == "max-concurrent client connections" else { throw node.error("expected 'max-concurrent client connections <op> N'") }
            kind = .maxConcurrent(op, right)
        } else if text == "reconnect-gaps non-decreasing" {
            kind = .reconnectGapsNonDecreasing
        } else if text.hasPrefix("reconnect-gaps shortest ") {
            let (_, op, right) = try split(text)
            kind = .reconnectGapShortest(op, right)
        } else if text.hasPrefix("reconnect-gaps spread ") {
            let (_, op, right) = try split(text)
            kind = .reconnectGapSpread(op, right)
        } else if text.hasPrefix("reconnect-gaps ") {
            let (_, op, right) = try split(text)
            kind = .reconnectGaps(op, right)
        } else if text.hasPrefix("spread ") {
            let (left, op, right) = try split(String(text.dropFirst(7)))
            kind = .spread(try eventPattern(left), op, right)
        } else {
            let forms = ["count <event> <op> N", "max-concurrent client connections <op> N", "reconnect-gaps <op> <duration>", "reconnect-gaps non-decreasing", "reconnect-gaps spread <op> <duration>", "reconnect-gaps shortest <op> <duration>", "spread <event> <op> <duration>"]
            let head = String(text.split(separator: " ").first ?? "")
            let hint = closestMatch(to: head, in: ["count", "max-concurrent", "reconnect-gaps", "spread"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw node.error("unknown assertion '\(text)'\(hint); the forms are: \(forms.joined(separator: "; "))")
        }
        return Assertion(location: node.location, text: text, kind: kind)
    }
}
