public import ScenarioJudging
public import ScenarioModel
import Foundation
public import EventSchema

/// Finding scenario files: a folder means the `.yaml`/`.yml` files directly in it; subfolders
/// (such as `negative/` and `clients/`) only when named or with `recursive`.
public enum ScenarioFiles {
    public static func resolve(_ paths: [String], recursive: Bool) throws(ScenarioError) -> [String] {
        var files: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ScenarioError(location: path, message: "no such file or folder")
            }
            if !isDirectory.boolValue {
                files.append(path)
                continue
            }
            files += collect(path, recursive: recursive)
        }
        guard !files.isEmpty else { throw ScenarioError(location: paths.joined(separator: " "), message: "no scenario files (*.yaml) found") }
        return files
    }

    private static func collect(_ folder: String, recursive: Bool) -> [String] {
        let manager = FileManager.default
        let entries = ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        var files: [String] = []
        var folders: [String] = []
        for entry in entries where !entry.hasPrefix(".") {
            let path = folder.hasSuffix("/") ? folder + entry : folder + "/" + entry
            var isDirectory: ObjCBool = false
            _ = manager.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                folders.append(path)
            } else if entry.hasSuffix(".yaml") || entry.hasSuffix(".yml") {
                files.append(path)
            }
        }
        if recursive { for sub in folders { files += collect(sub, recursive: true) } }
        return files
    }
}

/// The end-of-run table and JUnit XML.
public enum Reports {
    public static func summary(_ results: [ScenarioResult], wall: Duration) -> [String] {
        let nameWidth = max(8, results.map(\.scenario.name.count).max() ?? 8)
        var lines = [""]
        lines.append("scenario".padding(nameWidth) + "  result  checks   not judged  smallest margin   time")
        for result in results {
            let passed = result.verdicts.filter { $0.outcome == .passed }.count
            let status = result.outcome.column
            let margin = result.smallestMargin.map { $0.short } ?? "—"
            let checks = "\(passed)/\(result.verdicts.count)"
            let unjudged = result.notJudged == 0 ? "—" : String(result.notJudged)
            lines.append(
                result.scenario.name.padding(nameWidth) + "  " + status + "  " + checks.padding(7) + "  " + unjudged.padding(10) + "  "
                    + margin.padding(16) + "  " + result.duration.short
            )
        }
        // A broken client that got through: what was expected and what came, in the terminal too.
        for result in results where result.caught == false && result.setupError == nil {
            if let mismatch = result.scenario.mustFail?.mismatch(in: result.verdicts) {
                lines.append("  \(result.scenario.name): \(mismatch)")
            }
        }
        let failed = results.filter { !$0.passed }.count
        let allMargins = results.compactMap(\.smallestMargin)
        let smallest = allMargins.min().map { ", smallest margin \($0.short)" } ?? ""
        let unjudged = results.reduce(0) { $0 + $1.notJudged }
        let unjudgedText = unjudged == 0 ? "" : ", \(unjudged) checks not judged"
        lines.append("")
        lines.append("\(results.count - failed) passed, \(failed) failed (\(results.count) scenarios in \(wall.short)\(smallest)\(unjudgedText))")
        return lines
    }

    public static func junit(_ results: [ScenarioResult]) -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        // A broken client's scenario is one case (caught or not); any other, one case per check.
        func cases(_ result: ScenarioResult) -> Int { result.caught != nil ? 1 : max(1, result.verdicts.count) }
        func failures(_ result: ScenarioResult) -> Int {
            switch result.outcome {
            case .error, .notRun: return 0
            case .caught: return 0
            case .failed where result.caught != nil: return 1
            default: return result.verdicts.filter(\.failed).count
            }
        }
        func errors(_ result: ScenarioResult) -> Int { result.outcome == .error ? 1 : 0 }
        func skipped(_ result: ScenarioResult) -> Int { result.caught != nil ? 0 : result.notJudged }
        let totalTests = results.reduce(0) { $0 + cases($1) }
        let totalFailures = results.reduce(0) { $0 + failures($1) + errors($1) }
        let totalSkipped = results.reduce(0) { $0 + skipped($1) }
        xml += #"<testsuites name="flatline" tests="\#(totalTests)" failures="\#(totalFailures)" skipped="\#(totalSkipped)">"# + "\n"
        for result in results {
            let failureCount = failures(result)
            let seconds = String(format: result.duration.milliseconds / 1000, decimals: 3)
            xml += #"  <testsuite name="\#(escape(result.scenario.file))" tests="\#(cases(result))" failures="\#(failureCount)" errors="\#(errors(result))" skipped="\#(skipped(result))" time="\#(seconds)">"# + "\n"
            if let setupError = result.setupError {
                xml += #"    <testcase name="setup" classname="\#(escape(result.scenario.name))" time="\#(seconds)"><error message="\#(escape(setupError))"/></testcase>"# + "\n"
            }
            if let reason = result.notRun {
                xml += #"    <testcase name="setup" classname="\#(escape(result.scenario.name))" time="0.000"><skipped message="not run: \#(escape(reason))"/></testcase>"# + "\n"
            }
            if let mustFail = result.scenario.mustFail, result.setupError == nil {
                // A broken client: one case, passed when the check aimed at it caught it.
                let name = "must fail: \(mustFail.check) with '\(mustFail.message)'"
                xml += #"    <testcase name="\#(escape(name))" classname="\#(escape(result.scenario.name))" file="\#(escape(result.scenario.file))" time="\#(seconds)">"#
                if result.caught != true {
                    let message = mustFail.mismatch(in: result.verdicts) ?? "not caught"
                    xml += #"<failure message="\#(escape(message))" type="must-fail">\#(escape(result.scenario.file)): \#(escape(message))</failure>"#
                }
                xml += "</testcase>\n"
                xml += "    <system-out>\(escape((result.verdicts.map(\.line) + result.timeline).joined(separator: "\n")))</system-out>\n"
                xml += "  </testsuite>\n"
                continue
            }
            for verdict in result.verdicts {
                let name = "\(verdict.check): \(verdict.label)"
                // A check's time is what it measured (0 for one that measures no interval).
                let checkSeconds = String(format: (verdict.measured ?? .zero).milliseconds / 1000, decimals: 3)
                xml += #"    <testcase name="\#(escape(name))" classname="\#(escape(result.scenario.name))" file="\#(escape(result.scenario.file))" time="\#(checkSeconds)">"#
                switch verdict.outcome {
                case .failed:
                    xml += #"<failure message="\#(escape(verdict.message))" type="expectation">\#(escape(verdict.location)): \#(escape(verdict.message))</failure>"#
                case .notJudged:
                    xml += #"<skipped message="not judged: \#(escape(verdict.message))"/>"#
                case .passed:
                    break
                }
                xml += "</testcase>\n"
            }
            xml += "    <system-out>\(escape(result.timeline.joined(separator: "\n")))</system-out>\n"
            xml += "  </testsuite>\n"
        }
        xml += "</testsuites>\n"
        return xml
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case let c where c.value < 0x20 && c != "\n" && c != "\t" && c != "\r": out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Re-prints a recording's timeline (for replay).
    public static func timeline(_ events: [EventRecord], verbose: Bool) -> [String] {
        events.compactMap { TimelineLines.line(for: $0, verbose: verbose) }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
