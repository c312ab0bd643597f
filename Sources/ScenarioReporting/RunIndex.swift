public import ScenarioJudging
import ScenarioModel
public import EventSchema
import Foundation

extension RunReport {
    /// The links above a run's timeline: its recording, its capture when there is one, the JUnit file.
    public static func links(folder: String, junit: String?) -> [(String, String)] {
        var links = [(RunFolders.recordingName, RunFolders.recordingName)]
        if FileManager.default.fileExists(atPath: RunFolders.capture(in: folder)) { links.append((RunFolders.captureName, RunFolders.captureName)) }
        if let junit { links.append(("JUnit", relativePath(from: folder, to: junit))) }
        return links
    }

    /// A run folder read back for a page or an index: the recording (read tolerantly: a run killed
    /// mid-way is drawn from what is there and marked incomplete) and its verdicts, judged again
    /// by the same rules as the run (the replay checks they are the run's own).
    public struct Loaded: Sendable {
        public var folder: String
        public var input: Input
        public var result: ScenarioResult?
    }

    public static func load(folder: String, junit: String? = nil) throws(ConfigurationError) -> Loaded {
        let path = RunFolders.recording(in: folder)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("\(folder): no \(RunFolders.recordingName) here (not a run folder, or the run was started with --no-record)")
        }
        let recording = try Recording.read(path: path, tolerant: true)
        var problems: [String] = []
        if let damage = recording.damage { problems.append(damage) }
        if !recording.complete { problems.append("the run was cut short (no end record, or lines missing)") }
        let network = recording.configuration["network"]?.stringValue.flatMap(NetworkMode.init(rawValue:)) ?? .proxy
        var scenario: Scenario?
        var verdicts: [Verdict] = []
        do {
            let parsed = try Scenario.parse(recording.scenarioText, file: recording.scenarioFile).in(network)
            scenario = parsed
            if recording.setupError == nil {
                verdicts = Judge.judge(parsed, events: recording.events, slack: recording.slack, strict: recording.strict)
            }
        } catch {
            problems.append("its scenario cannot be read by this version (\(error.description)), so its checks are not drawn")
        }
        let incomplete = problems.isEmpty ? nil : problems.joined(separator: "; ")
        let input = Input(
            recording: recording, scenario: scenario, verdicts: verdicts, incomplete: incomplete,
            links: links(folder: folder, junit: junit), setupError: recording.setupError
        )
        let result = scenario.map { scenario in
            ScenarioResult(
                scenario: scenario, verdicts: verdicts, setupError: recording.setupError ?? (recording.complete ? nil : "incomplete recording: \(incomplete ?? "")"),
                duration: recording.duration ?? (recording.events.last?.t ?? .zero), recordingPath: path,
                timeline: Reports.timeline(recording.events, verbose: false)
            )
        }
        return Loaded(folder: folder, input: input, result: result)
    }

    /// `to` as seen from the folder `from` (both relative to the working directory, or absolute).
    public static func relativePath(from folder: String, to target: String) -> String {
        func parts(_ path: String) -> [String] {
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            var result: [String] = []
            for part in absolute.split(separator: "/") where part != "." {
                if part == ".." { if !result.isEmpty { result.removeLast() } } else { result.append(String(part)) }
            }
            return result
        }
        let a = parts(folder), b = parts(target)
        var common = 0
        while common < a.count, common < b.count, a[common] == b[common] { common += 1 }
        let up = Array(repeating: "..", count: a.count - common)
        let path = (up + b[common...]).joined(separator: "/")
        return path.isEmpty ? "." : path
    }
}

/// The page of one invocation (`index.html`): every scenario run with its verdict, duration and
/// smallest margin, failures first, each linking to its page; the total and the slowest.
public enum RunIndex {
    public struct Entry: Sendable {
        public var name: String
        public var file: String
        public var status: RunOutcome
        public var duration: Duration
        public var smallestMargin: Duration?
        public var checks: Int
        public var failedChecks: Int
        public var notJudged: Int
        /// The run's page, relative to the index.
        public var link: String?
        public var note: String?

        public init(result: ScenarioResult, link: String?, incomplete: Bool = false) {
            name = result.scenario.name
            file = result.scenario.file
            status = RunOutcome.decide(
                verdicts: result.verdicts, mustFail: result.scenario.mustFail, setupError: result.setupError, notRun: result.notRun != nil, incomplete: incomplete
            )
            duration = result.duration
            smallestMargin = result.smallestMargin
            checks = result.verdicts.count
            failedChecks = result.verdicts.filter(\.failed).count
            notJudged = result.notJudged
            self.link = link
            note = result.setupError ?? result.notRun.map { "not run: \($0)" }
        }
    }

    public static func html(_ entries: [Entry], title: String, wall: Duration? = nil, extraLinks: [(String, String)] = []) -> String {
        let ordered = entries.sorted { ($0.status.rank, $0.name, $0.file) < ($1.status.rank, $1.name, $1.file) }
        let failed = entries.filter { $0.status.rank == 0 }.count
        let total = entries.reduce(Duration.zero) { $0 + $1.duration }
        let slowest = entries.max { $0.duration < $1.duration }
        let smallest = entries.compactMap(\.smallestMargin).min()
        let escape = Reports.escape
        let status = failed > 0 ? "failed" : "passed"
        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escape(title)) — \(status) — Flatline</title><style>\(RunReport.css)</style></head><body>"
        html += #"<header><h1>\#(escape(title)) <span class="status \#(status)" id="status">\#(status)</span></h1>"#
        var summary = "\(entries.count) scenarios: \(entries.count - failed) passed, \(failed) failed; \(RunReport.fmt(total.milliseconds / 1000)) s of runs"
        if let wall { summary += " in \(RunReport.fmt(wall.milliseconds / 1000)) s" }
        if let smallest { summary += "; smallest margin \(RunReport.fmt(smallest.milliseconds)) ms" }
        html += #"<p class="summary" id="totals">\#(escape(summary))</p>"#
        if let slowest { html += #"<p class="file">slowest: \#(escape(slowest.name)) (\#(RunReport.fmt(slowest.duration.milliseconds)) ms)</p>"# }
        if !extraLinks.isEmpty { html += "<p class=\"links\">" + extraLinks.map { #"<a href="\#(escape($0.1))">\#(escape($0.0))</a>"# }.joined(separator: " · ") + "</p>" }
        html += "</header><section><table class=\"checks index\"><thead><tr><th></th><th>scenario</th><th>verdict</th><th>checks</th><th>duration</th><th>smallest margin</th><th>file</th></tr></thead><tbody>"
        for entry in ordered {
            let row = entry.status.rank == 0 ? "failed" : entry.status.rank == 1 ? "unjudged" : "passed"
            let symbol = row == "failed" ? "✗" : row == "unjudged" ? "–" : "✓"
            let name = entry.link.map { #"<a href="\#(escape($0))">\#(escape(entry.name))</a>"# } ?? escape(entry.name)
            let checks = "\(entry.checks - entry.failedChecks - entry.notJudged)/\(entry.checks)" + (entry.notJudged > 0 ? " (\(entry.notJudged) not judged)" : "")
            html += #"<tr class="\#(row)" data-scenario="\#(escape(entry.name))"><td>\#(symbol)</td><td>\#(name)\#(entry.note.map { "<div class=\"where\">\(escape($0))</div>" } ?? "")</td><td>\#(entry.status.rawValue)</td><td>\#(checks)</td>"#
            html += "<td>\(RunReport.fmt(entry.duration.milliseconds)) ms</td><td>\(entry.smallestMargin.map { RunReport.fmt($0.milliseconds) + " ms" } ?? "—")</td><td class=\"where\">\(escape(entry.file))</td></tr>"
        }
        html += "</tbody></table></section></body></html>\n"
        return html
    }
}
