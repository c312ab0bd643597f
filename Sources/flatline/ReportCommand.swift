import ArgumentParser
import EventSchema
import Foundation
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel


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
        let outcome = merge ? ReportPages.merge(runsFolders: folders, out: out) : ReportPages.draw(folders: folders, index: index)
        for line in outcome.lines { LineWriter.standardOutput.write(line) }
        for problem in outcome.problems { LineWriter.standardError.write("flatline report\(merge ? " --merge" : ""): \(problem)") }
        if outcome.exitStatus != 0 { throw ExitCode(outcome.exitStatus) }
    }
}
