import EventSchema
import Foundation

/// `flatline report`: a page per run folder and an index; or the runs folders of a sharded suite
/// checked and merged into one index, one JUnit file and the durations for the next split.
public enum ReportPages {
    /// What a report wrote (`lines`), what went wrong (`problems`: exit 2), and whether a run failed (exit 1).
    public struct Outcome: Sendable {
        public var lines: [String] = []
        public var problems: [String] = []
        public var failed = false

        public init() {}

        public var exitStatus: Int32 { !problems.isEmpty ? 2 : failed ? 1 : 0 }
    }

    /// Pages for `folders` (run folders, or runs folders: the newest run of each scenario), and an
    /// index at `index` (default: in the runs folder given; none for run folders alone).
    public static func draw(folders: [String], index: String?) -> Outcome {
        var outcome = Outcome()
        var loaded: [RunReport.Loaded] = []
        var indexPath = index
        for folder in folders {
            do {
                let runs = try RunFolders.runs(in: folder)
                if indexPath == nil, runs != [folder] { indexPath = RunFolders(root: folder).index }
                for run in runs { loaded.append(try RunReport.load(folder: run)) }
            } catch {
                outcome.problems.append(error.message)
            }
        }
        for run in loaded {
            let path = RunFolders.report(in: run.folder)
            if write(RunReport.html(run.input), to: path, into: &outcome) {
                outcome.lines.append(path + (run.input.incomplete.map { "  (incomplete: \($0))" } ?? ""))
            }
        }
        if let indexPath, !loaded.isEmpty {
            let base = (indexPath as NSString).deletingLastPathComponent
            if write(RunIndex.html(entries(loaded, from: base.isEmpty ? "." : base), title: "Flatline runs"), to: indexPath, into: &outcome) {
                outcome.lines.append("index: \(indexPath)")
            }
        }
        outcome.failed = loaded.contains { $0.result.map { !$0.passed } ?? true }
        return outcome
    }

    /// Merges the runs folders of the shards of one suite into `out` (index.html, junit.xml,
    /// durations.json), after checking that they are one split, complete and without overlap.
    public static func merge(runsFolders: [String], out: String) -> Outcome {
        var outcome = Outcome()
        let (manifests, problems) = ScenarioShards.manifests(in: runsFolders)
        outcome.problems = problems
        guard problems.isEmpty else { return outcome }
        var loaded: [RunReport.Loaded] = []
        let junit = "\(out)/junit.xml"
        for manifest in manifests {
            for run in manifest.folders {
                let folder = "\(manifest.runsFolder)/\(run)"
                do {
                    let item = try RunReport.load(folder: folder, junit: junit)
                    guard write(RunReport.html(item.input), to: RunFolders.report(in: folder), into: &outcome) else { return outcome }
                    loaded.append(item)
                } catch {
                    outcome.problems.append(error.message)
                    return outcome
                }
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            outcome.problems.append("cannot create \(out): \(error)")
            return outcome
        }
        let results = loaded.compactMap(\.result)
        let index = RunIndex.html(
            entries(loaded, from: out), title: "Flatline suite (\(manifests.count) shards)", extraLinks: [("JUnit", "junit.xml"), ("durations.json", "durations.json")]
        )
        guard write(index, to: RunFolders(root: out).index, into: &outcome), write(Reports.junit(results), to: junit, into: &outcome),
            write(ScenarioShards.durationsFile(results), to: "\(out)/durations.json", into: &outcome)
        else { return outcome }
        let failed = results.filter { !$0.passed }.count
        outcome.lines = [
            "merged \(manifests.count) shards: \(results.count) scenarios, \(results.count - failed) passed, \(failed) failed",
            "index: \(RunFolders(root: out).index)", "junit: \(junit)",
        ]
        outcome.failed = failed > 0 || results.count < loaded.count
        return outcome
    }

    private static func entries(_ loaded: [RunReport.Loaded], from base: String) -> [RunIndex.Entry] {
        loaded.compactMap { run in
            run.result.map { RunIndex.Entry(result: $0, link: RunReport.relativePath(from: base, to: RunFolders.report(in: run.folder)), incomplete: run.input.incomplete != nil) }
        }
    }

    /// Writes `text`; a failure is a problem of the outcome.
    public static func write(_ text: String, to path: String, into outcome: inout Outcome) -> Bool {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return true
        } catch {
            outcome.problems.append("cannot write \(path): \(error)")
            return false
        }
    }
}
