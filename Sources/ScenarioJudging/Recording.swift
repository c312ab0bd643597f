public import ScenarioModel
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
    /// How the run was judged (reused by replay unless told otherwise).
    public var slack: Slack
    public var strict: Bool
    /// Read back: whether the recording ends with its final record (a run killed mid-way, or a
    /// file cut short, does not).
    public var complete = true
    /// Read back: the verdicts the run itself wrote (to compare with a replay's).
    public var storedVerdicts: [StoredVerdict] = []

    /// A verdict as the run recorded it: its check and outcome (recordings older than `outcome`
    /// have only `ok`).
    public struct StoredVerdict: Sendable, Hashable {
        public var check: String
        public var outcome: String

        init(_ fields: JSONObject) {
            check = fields["check"]?.stringValue ?? ""
            outcome = fields["outcome"]?.stringValue ?? (fields["ok"] == true ? Verdict.Outcome.passed.rawValue : Verdict.Outcome.failed.rawValue)
        }
    }

    /// Where `verdicts` (a replay's) differ from the run's own: one line per check.
    public func disagreements(with verdicts: [Verdict]) -> [String] {
        verdicts.enumerated().compactMap { index, verdict in
            let stored = index < storedVerdicts.count ? storedVerdicts[index] : nil
            let was = stored?.outcome ?? "absent"
            guard stored?.check != verdict.check || was != verdict.outcome.rawValue else { return nil }
            return "≠ \(verdict.check): the run recorded \(was), the replay finds \(verdict.outcome.rawValue)"
        }
    }
    /// How long the run took (wall time), and why it could not run, when it could not.
    public var duration: Duration?
    public var setupError: String?
    /// Read back tolerantly: what was wrong with the file (a cut-off last line…), or nil.
    public var damage: String?

    /// The recording format this version writes and reads; a newer one is refused with a message.
    public static let format = 1

    public init(
        scenarioFile: String, scenarioText: String, configuration: JSONObject, events: [EventRecord], verdicts: [Verdict],
        slack: Slack = .none, strict: Bool = false
    ) {
        self.scenarioFile = scenarioFile
        self.scenarioText = scenarioText
        self.configuration = configuration
        self.events = events
        self.verdicts = verdicts
        self.slack = slack
        self.strict = strict
    }

    /// The recording's lines, one JSON object each (no newlines).
    public var lines: [String] {
        var lines: [String] = []
        forEachLine { lines.append($0) }
        return lines
    }

    /// Calls `body` with each line in order, made one at a time: a long run's recording (hundreds of
    /// thousands of events) is never a second copy of itself in memory.
    public func forEachLine(_ body: (String) throws -> Void) rethrows {
        try body(EventRecord(t: .zero, RunnerEventType.scenario, fields: ["file": .string(scenarioFile), "text": .string(scenarioText), "format": .int(Int64(Self.format))]).jsonLine)
        try body(EventRecord(t: .zero, RunnerEventType.configuration, fields: configuration).jsonLine)
        for event in events { try body(event.jsonLine) }
        let end = events.last?.t ?? .zero
        for verdict in verdicts { try body(EventRecord(t: end, RunnerEventType.verdict, fields: verdict.json).jsonLine) }
        var fields: JSONObject = [
            "events": .int(Int64(events.count)), "verdicts": .int(Int64(verdicts.count)),
            "slack": .string(slack.description), "strict": .bool(strict),
        ]
        if let duration { fields["duration_ms"] = .double(duration.roundedMilliseconds) }
        if let setupError { fields["setup_error"] = .string(setupError) }
        try body(EventRecord(t: end, RunnerEventType.end, fields: fields).jsonLine)
    }

    /// Writes the recording line by line through a buffered file — the joined text of a 5-minute,
    /// 200-client run was 45 MB on top of its events, made three times over at the very end of the
    /// run — into a temporary file renamed into place: a reader sees the whole recording or none.
    public func write(to path: String) throws(ConfigurationError) {
        let temporary = path + ".writing"
        guard let file = fopen(temporary, "w") else { throw Self.writeError(path) }
        setvbuf(file, nil, _IOFBF, 1 << 16)
        var failure: ConfigurationError?
        forEachLine { line in
            guard failure == nil else { return }
            var line = line
            let written = line.withUTF8 { fwrite($0.baseAddress, 1, $0.count, file) == $0.count }
            if !written || fputc(0x0A, file) == EOF { failure = Self.writeError(path) }
        }
        if fclose(file) != 0, failure == nil { failure = Self.writeError(path) }
        if failure == nil, rename(temporary, path) != 0 { failure = Self.writeError(path) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    private static func writeError(_ path: String) -> ConfigurationError {
        ConfigurationError("\(path): cannot write the recording (\(String(cString: strerror(errno))))")
    }

    /// Reads a recording back; verdict lines are kept aside (they are recomputed by replay).
    /// `tolerant`: a line that cannot be read ends the recording there (a run killed mid-write),
    /// and the reason is kept in `damage`, instead of refusing the file.
    public static func read(path: String, tolerant: Bool = false) throws(ConfigurationError) -> Recording {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(path): cannot read the recording")
        }
        return try read(text: text, path: path, tolerant: tolerant)
    }

    /// A recording's text (`path` names it in errors).
    public static func read(text: String, path: String, tolerant: Bool = false) throws(ConfigurationError) -> Recording {
        var file = "", scenarioText = "", configuration = JSONObject(), events: [EventRecord] = []
        var stored: [StoredVerdict] = []
        var end: JSONObject?
        var damage: String?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            if end != nil {
                if tolerant { damage = "line \(number + 1) comes after the recording's end record"; break }
                throw ConfigurationError("\(path):\(number + 1): a line after the recording's end record")
            }
            let record: EventRecord
            do {
                record = try EventRecord(jsonLine: String(line))
            } catch {
                if tolerant { damage = "line \(number + 1) cannot be read (\(error.message)); the recording is drawn up to it"; break }
                throw ConfigurationError("\(path):\(number + 1): \(error.message)")
            }
            switch record.type {
            case .runner(.scenario):
                file = record.fields["file"]?.stringValue ?? ""
                scenarioText = record.fields["text"]?.stringValue ?? ""
                if let format = record.fields["format"]?.intValue, format > Int64(Self.format) {
                    throw ConfigurationError("\(path): recorded by a newer Flatline (recording format \(format); this one reads format \(Self.format)): use that version, or a newer one of this")
                }
            case .runner(.configuration):
                configuration = record.fields
            case .runner(.verdict):
                stored.append(StoredVerdict(record.fields))
            case .runner(.end):
                end = record.fields
            default:
                events.append(record)
            }
        }
        guard !scenarioText.isEmpty else { throw ConfigurationError("\(path): not a Flatline recording (no scenario line)") }
        var recording = Recording(scenarioFile: file, scenarioText: scenarioText, configuration: configuration, events: events, verdicts: [])
        recording.storedVerdicts = stored
        recording.damage = damage
        if let end {
            recording.duration = end["duration_ms"]?.doubleValue.map { .nanoseconds(Int64($0 * 1_000_000)) }
            recording.setupError = end["setup_error"]?.stringValue
            recording.slack = (try? Slack(parsing: end["slack"]?.stringValue ?? "0")) ?? .none
            recording.strict = end["strict"] == true
            // The end record counts what it closes: a recording missing lines in the middle is not complete either.
            recording.complete = end["events"]?.intValue == Int64(events.count) && end["verdicts"]?.intValue == Int64(stored.count)
        } else {
            recording.complete = false
        }
        return recording
    }
}
