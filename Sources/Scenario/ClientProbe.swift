import Foundation
import EventSchema
import ScenarioJudging
import ScenarioModel

/// A short run of a user's client (`flatline init`): whether it connects, and whether it prints
/// Flatline's event lines itself (then it is judged by them) or nothing Flatline reads (then from outside).
public struct ClientProbe: Sendable {
    public var connected: Bool
    public var printsEvents: Bool
    /// Why it did not connect: the setup error or the failed wait, and the client's last output lines.
    public var problem: String?

    public static func run(_ text: String) async -> ClientProbe {
        let folder = NSTemporaryDirectory() + "flatline-init-probe-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scenario: Scenario
        do { scenario = try Scenario.parse(text, file: "probe") } catch {
            return ClientProbe(connected: false, printsEvents: false, problem: "\(error)")
        }
        var options = RunOptions()
        options.runsDirectory = folder
        options.quiet = true
        options.console = { _ in }
        let result = await ScenarioRunner(scenario: scenario, options: options).run()
        let events = result.recordingPath.flatMap { try? Recording.read(path: $0, tolerant: true).events } ?? []
        let own = !ClientSources.selfReporting(events).isEmpty
        let connected = events.contains { $0.type == .client(.connected) }
        guard connected else {
            let output = events.filter { $0.type == .client(.output) }.suffix(5).compactMap { $0.fields["line"].map { "\($0)" } }
            let why = result.setupError ?? result.verdicts.first { $0.outcome != .passed }?.message ?? "it did not connect"
            return ClientProbe(connected: false, printsEvents: own, problem: why + (output.isEmpty ? "" : "; its last output: " + output.joined(separator: " | ")))
        }
        return ClientProbe(connected: true, printsEvents: own, problem: nil)
    }
}
