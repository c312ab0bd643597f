import Foundation
public import EventSchema

/// A run's recording: the scenario text, the resolved configuration, every event, the verdicts.
/// One JSON object per line (`recording.jsonl`).
public struct Recording: Sendable {
    public var scenarioFile: String
    public var scenarioText: String
    public var configuration: JSONObject
    public var events: [EventRecord]
    public var verdicts: [Verdict]

    public init(scenarioFile: String, scenarioText: String, configuration: JSONObject, events: [EventRecord], verdicts: [Verdict]) {
        self.scenarioFile = scenarioFile
        self.scenarioText = scenarioText
        self.configuration = configuration
        self.events = events
        self.verdicts = verdicts
    }

    public var lines: [String] {
        var lines: [String] = []
        lines.append(EventRecord(t: .zero, RunnerEventType.scenario, fields: ["file": .string(scenarioFile), "text": .string(scenarioText)]).jsonLine)
        lines.append(EventRecord(t: .zero, RunnerEventType.configuration, fields: configuration).jsonLine)
        lines += events.map(\.jsonLine)
        let end = events.last?.t ?? .zero
        lines += verdicts.map { EventRecord(t: end, RunnerEventType.verdict, fields: $0.json).jsonLine }
        return lines
    }

    public func write(to path: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Reads a recording back; verdict lines are kept aside (they are recomputed by replay).
    public static func read(path: String) throws(ConfigurationError) -> Recording {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(path): cannot read the recording")
        }
        var file = "", scenarioText = "", configuration = JSONObject(), events: [EventRecord] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let record: EventRecord
            do {
                record = try EventRecord(jsonLine: String(line))
            } catch {
                throw ConfigurationError("\(path):\(number + 1): \(error.message)")
            }
            switch (record.source, record.type) {
            case ("runner", "scenario"):
                file = record.fields["file"]?.stringValue ?? ""
                scenarioText = record.fields["text"]?.stringValue ?? ""
            case ("runner", "configuration"):
                configuration = record.fields
            case ("runner", "verdict"):
                continue
            default:
                events.append(record)
            }
        }
        guard !scenarioText.isEmpty else { throw ConfigurationError("\(path): not a Flatline recording (no scenario line)") }
        return Recording(scenarioFile: file, scenarioText: scenarioText, configuration: configuration, events: events, verdicts: [])
    }
}
