import ArgumentParser
import EventSchema
import Foundation
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel

#if canImport(Glibc)
import Glibc
#endif

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw HTML pages from recordings: report.html per run, an index, shards merged.",
        discussion: """
            Each RUN_DIR is a run folder (with recording.jsonl) or a runs folder (the newest run of \
            each scenario in it). A run killed mid-way is drawn from what is there and marked \
            incomplete. With --merge, each DIR is the runs folder of one 'flatline run --shard I/N'; \
            the shards are checked (each once, none missing, no scenario in two) and merged into one \
            index.html, one junit.xml and a durations.json for balancing the next split. \
            Exit status: 0 every run passed, 1 a run failed, 2 bad input.
            """
    )

    @Argument(help: "Run folders or runs folders (with --merge: the shards' runs folders).") var folders: [String]
    @Option(help: "Write an index page here (default: index.html in a runs folder given, none for run folders alone).") var index: String?
    @Flag(help: "Merge the runs folders of the shards of one suite.") var merge = false
    @Option(help: "With --merge: the folder for the merged index.html, junit.xml and durations.json.") var out: String = "flatline-report"

    func run() throws {
        if merge { try mergeShards() } else { try drawFolders() }
    }

    /// Run folders in `path`: itself, or the newest run of each scenario of a runs folder.
    static func runFolders(in path: String) throws(ConfigurationError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError("\(path): no such folder")
        }
        if FileManager.default.fileExists(atPath: "\(path)/recording.jsonl") { return [path] }
        var found: [String] = []
        for scenario in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() {
            let runs = ((try? FileManager.default.contentsOfDirectory(atPath: "\(path)/\(scenario)")) ?? []).sorted()
            if let newest = runs.reversed().first(where: { FileManager.default.fileExists(atPath: "\(path)/\(scenario)/\($0)/recording.jsonl") }) {
                found.append("\(path)/\(scenario)/\(newest)")
            }
        }
        guard !found.isEmpty else { throw ConfigurationError("\(path): no recording.jsonl here or in its scenario folders (not a run folder or a runs folder)") }
        return found
    }

    private func drawFolders() throws {
        var loaded: [RunReport.Loaded] = []
        var bad = false
        var indexPath = index
        for folder in folders {
            do {
                let runs = try Self.runFolders(in: folder)
                if indexPath == nil, runs != [folder] { indexPath = "\(folder)/index.html" }
                for run in runs { loaded.append(try RunReport.load(folder: run)) }
            } catch {
                LineWriter.standardError.write("flatline report: \(error.message)")
                bad = true
            }
        }
        for run in loaded {
            let path = "\(run.folder)/report.html"
            do {
                try RunReport.html(run.input).write(toFile: path, atomically: true, encoding: .utf8)
                LineWriter.standardOutput.write("\(path)" + (run.input.incomplete.map { "  (incomplete: \($0))" } ?? ""))
            } catch {
                LineWriter.standardError.write("flatline report: cannot write \(path): \(error)")
                bad = true
            }
        }
        if let indexPath, !loaded.isEmpty {
            let base = (indexPath as NSString).deletingLastPathComponent
            let entries = loaded.compactMap { run in
                run.result.map { RunIndex.Entry(result: $0, link: RunReport.relativePath(from: base.isEmpty ? "." : base, to: "\(run.folder)/report.html"), incomplete: run.input.incomplete != nil) }
            }
            do {
                try RunIndex.html(entries, title: "Flatline runs").write(toFile: indexPath, atomically: true, encoding: .utf8)
                LineWriter.standardOutput.write("index: \(indexPath)")
            } catch {
                LineWriter.standardError.write("flatline report: cannot write \(indexPath): \(error)")
                bad = true
            }
        }
        if bad { throw ExitCode(2) }
        if loaded.contains(where: { $0.result.map { !$0.passed } ?? true }) { throw ExitCode(1) }
    }

    private struct Manifest {
        var folder: String
        var index: Int
        var count: Int
        var all: [String]
        var files: [String]
        var runs: [String]
    }

    private func mergeShards() throws {
        var manifests: [Manifest] = []
        var problems: [String] = []
        for folder in folders {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("shard-") && $0.hasSuffix(".json") }.sorted()
            guard !names.isEmpty else {
                problems.append("\(folder): no shard manifest (shard-I-of-N.json): give the runs folder of a 'flatline run --shard I/N'")
                continue
            }
            for name in names {
                let path = "\(folder)/\(name)"
                guard let data = FileManager.default.contents(atPath: path), let value = try? JSONValue(parsing: [UInt8](data)), let object = value.objectValue,
                    let index = object["shard"]?.intValue, let count = object["of"]?.intValue
                else {
                    problems.append("\(path): not a shard manifest")
                    continue
                }
                let strings = { (key: String) in (object[key]?.arrayValue ?? []).compactMap(\.stringValue) }
                manifests.append(Manifest(folder: folder, index: Int(index), count: Int(count), all: strings("all"), files: strings("files"), runs: strings("folders")))
            }
        }
        if let first = manifests.first {
            for manifest in manifests where manifest.count != first.count || manifest.all != first.all {
                problems.append("\(manifest.folder): shard \(manifest.index)/\(manifest.count) is of another split than \(first.folder)'s \(first.index)/\(first.count) (different shard count or scenario list)")
            }
            var byIndex: [Int: Manifest] = [:]
            for manifest in manifests {
                if let other = byIndex[manifest.index] {
                    problems.append("shard \(manifest.index)/\(manifest.count) given twice: \(other.folder) and \(manifest.folder)")
                } else {
                    byIndex[manifest.index] = manifest
                }
            }
            let missing = (1...first.count).filter { byIndex[$0] == nil }
            if !missing.isEmpty {
                problems.append("missing: shard " + missing.map { "\($0)/\(first.count)" }.joined(separator: ", ") + " (no runs folder given for it)")
            }
            var ranIn: [String: Manifest] = [:]
            for manifest in byIndex.values.sorted(by: { $0.index < $1.index }) {
                for file in manifest.files {
                    if let other = ranIn[file] {
                        problems.append("\(file) ran in shard \(other.index)/\(other.count) (\(other.folder)) and in shard \(manifest.index)/\(manifest.count) (\(manifest.folder)): the shards did not split the same way (give every shard the same --durations file)")
                    }
                    ranIn[file] = manifest
                }
            }
            if missing.isEmpty {
                let unrun = first.all.filter { ranIn[$0] == nil }
                if !unrun.isEmpty { problems.append("no shard ran: \(unrun.joined(separator: ", ")) (the shards did not split the same way)") }
            }
        }
        for problem in problems { LineWriter.standardError.write("flatline report --merge: \(problem)") }
        guard problems.isEmpty else { throw ExitCode(2) }

        var loaded: [RunReport.Loaded] = []
        for manifest in manifests.sorted(by: { $0.index < $1.index }) {
            for run in manifest.runs {
                do {
                    let folder = "\(manifest.folder)/\(run)"
                    let item = try RunReport.load(folder: folder, junit: "\(out)/junit.xml")
                    try RunReport.html(item.input).write(toFile: "\(folder)/report.html", atomically: true, encoding: .utf8)
                    loaded.append(item)
                } catch let error as ConfigurationError {
                    LineWriter.standardError.write("flatline report --merge: \(error.message)")
                    throw ExitCode(2)
                }
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            LineWriter.standardError.write("flatline report --merge: cannot create \(out): \(error)")
            throw ExitCode(2)
        }
        let results = loaded.compactMap(\.result)
        let entries = loaded.compactMap { run in
            run.result.map { RunIndex.Entry(result: $0, link: RunReport.relativePath(from: out, to: "\(run.folder)/report.html"), incomplete: run.input.incomplete != nil) }
        }
        var durations = JSONObject()
        for result in results.sorted(by: { $0.scenario.file < $1.scenario.file }) {
            durations[result.scenario.file] = .double((result.duration.milliseconds / 10).rounded() / 100)
        }
        do {
            try RunIndex.html(entries, title: "Flatline suite (\(manifests.count) shards)", extraLinks: [("JUnit", "junit.xml"), ("durations.json", "durations.json")])
                .write(toFile: "\(out)/index.html", atomically: true, encoding: .utf8)
            try Reports.junit(results).write(toFile: "\(out)/junit.xml", atomically: true, encoding: .utf8)
            try (JSONValue.object(durations).description + "\n").write(toFile: "\(out)/durations.json", atomically: true, encoding: .utf8)
        } catch {
            LineWriter.standardError.write("flatline report --merge: cannot write into \(out): \(error)")
            throw ExitCode(2)
        }
        let failed = results.filter { !$0.passed }.count
        LineWriter.standardOutput.write("merged \(manifests.count) shards: \(results.count) scenarios, \(results.count - failed) passed, \(failed) failed")
        LineWriter.standardOutput.write("index: \(out)/index.html")
        LineWriter.standardOutput.write("junit: \(out)/junit.xml")
        if failed > 0 || results.count < loaded.count { throw ExitCode(1) }
    }
}
