import EventSchema
import ScenarioModel

/// Durations (`250ms`, `1m30s`) and duration expressions over a scenario's settings
/// (`heartbeat.interval + 50ms`, `(reconnect.cap + 100ms) * 1.5`): parsed and evaluated, or refused
/// with a message — never a crash, never a trap on overflow; a bound the encoder writes back means the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? DurationParser.parse(text)
    let environment: [String: DurationExpression.Value] = [
        "heartbeat.interval": .duration(.milliseconds(300)), "heartbeat.timeout": .duration(.milliseconds(150)),
        "reconnect.delay": .duration(.milliseconds(200)), "reconnect.max-attempts": .number(10),
    ]
    guard let expression = try? DurationExpression.parse(text) else { return 0 }
    let value = try? expression.evaluate(environment)
    // A bound written back by the encoder (exploration's minimal scenarios, `Scenario.yaml`) must mean what it meant.
    guard !text.contains("\n"), let scenario = try? Scenario.parse("name: f\ntimeline:\n  - expect: client connected\n    within: \(text)\n", file: "f.yaml"),
        case .expect(_, let within, _) = scenario.timeline[0].kind
    else { return 0 }
    let written = scenario.yaml
    guard let again = try? Scenario.parse(written, file: "again.yaml"), case .expect(_, let withinAgain, _) = again.timeline[0].kind else {
        fatalError("'\(text)' parsed, but the encoder wrote what does not parse:\n\(written)")
    }
    guard (try? withinAgain.evaluate(scenario.environment)) == (try? within.evaluate(scenario.environment)) else {
        fatalError("'\(text)' and the encoder's '\(withinAgain)' evaluate differently")
    }
    return 0
}
