public import EventSchema
public import ScenarioModel
import ScenarioJudging
import Foundation

/// `flatline replay`: a recorded run printed again and judged again, offline — by its own
/// scenario (the verdicts must be the run's own; where they are not is said), or by an edited one
/// whose actions are the recorded run's.
public enum Replay {
    public struct Request: Sendable {
        public var recording: String
        /// An edited scenario to judge the recording with.
        public var scenario: String?
        /// The run's own unless given.
        public var slack: Slack?
        public var strict = false
        /// Judge with an edited scenario even if its actions differ.
        public var force = false
        public var verbose = false
        /// Write report.html beside the recording.
        public var report = false
        /// Puts a capture's wire events beside the recording's (`--pcap`).
        public var capture: (@Sendable ([EventRecord], _ configuration: JSONObject) throws -> [EventRecord])?

        public init(recording: String) { self.recording = recording }
    }

    /// The newest recording of scenario `name` in `runs`, or an error naming what is there.
    public static func recording(last name: String, in runs: RunFolders) throws(ConfigurationError) -> String {
        if let newest = runs.newestRecording(of: name) { return newest }
        let known = runs.scenarioNames()
        throw ConfigurationError("no recording of '\(name)' in \(runs.root)" + (known.isEmpty ? "" : "; scenarios recorded: \(known.joined(separator: ", "))"))
    }

    /// Replays, printing with `say` (and problems with `complain`); returns the exit status:
    /// 0 every check held, 1 one failed, 2 bad input or an incomplete recording.
    public static func run(_ request: Request, say: (String) -> Void, complain: (String) -> Void) -> Int32 {
        let loaded: Recording
        do { loaded = try Recording.read(path: request.recording) } catch {
            complain("flatline replay: \(error.message)")
            return 2
        }
        // The run's network mode (the file's, or --network) decides which checks apply.
        let network = loaded.configuration["network"]?.stringValue.flatMap(NetworkMode.init(rawValue:)) ?? .proxy
        let judged: Scenario
        let recorded: Scenario
        do {
            recorded = try Scenario.parse(loaded.scenarioText, file: loaded.scenarioFile).in(network)
            judged = try request.scenario.map { path throws(ScenarioError) in try Scenario.load(path: path).in(network) } ?? recorded
        } catch {
            complain("\(error)")
            return 2
        }
        // Only expectations and assertions may change: the recorded events answer the recorded actions.
        let actions = { (s: Scenario) in s.timeline.filter { !$0.isCheck }.map(\.label) }
        if let edited = request.scenario, actions(judged) != actions(recorded), !request.force {
            complain("flatline replay: \(edited) does not do what the recorded run did (its actions, waits or afters differ): the recording cannot answer it; use --force to judge it anyway")
            return 2
        }
        if !loaded.complete {
            complain("flatline replay: \(request.recording) is incomplete (no end record, or lines missing): the run was cut short, and its checks are judged on what is there")
        }
        var events = loaded.events
        if let capture = request.capture {
            do { events = try capture(events, loaded.configuration) } catch {
                complain("flatline replay: \(error)")
                return 2
            }
        }
        say("▶ \(judged.name)  (replay of \(request.recording))")
        for line in Reports.timeline(events, verbose: request.verbose) { say(line) }
        let verdicts = Judge.judge(judged, events: events, slack: request.slack ?? loaded.slack, strict: request.strict || loaded.strict)
        for verdict in verdicts { say("  " + verdict.line) }
        // The same run, the same rules: the verdicts must be the run's own.
        if request.scenario == nil, request.slack == nil, request.capture == nil, loaded.complete {
            for line in loaded.disagreements(with: verdicts) { say("  " + line) }
        }
        if request.report {
            let folder = RunFolders.folder(ofRecording: request.recording)
            var shown = loaded
            shown.events = events
            let input = RunReport.Input(
                recording: shown, scenario: judged, verdicts: verdicts, incomplete: loaded.complete ? nil : "the run was cut short (no end record)",
                links: RunReport.links(folder: folder, junit: nil), setupError: loaded.setupError
            )
            var outcome = ReportPages.Outcome()
            guard ReportPages.write(RunReport.html(input), to: RunFolders.report(in: folder), into: &outcome) else {
                for problem in outcome.problems { complain("flatline replay: \(problem)") }
                return 2
            }
            say("report: \(RunFolders.report(in: folder))")
        }
        let failed = verdicts.filter(\.failed).count
        let notJudged = verdicts.filter { $0.outcome == .notJudged }.count
        say("\(verdicts.count - failed - notJudged) passed, \(failed) failed" + (notJudged > 0 ? ", \(notJudged) not judged" : ""))
        return !loaded.complete ? 2 : failed > 0 ? 1 : 0
    }
}
