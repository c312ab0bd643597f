import FaultModel
import Foundation
import EventSchema
import HeartbeatCore

// Checks across the whole timeline (fault names, order of times, what an external client can do).
extension ScenarioParser {
    // MARK: Whole-timeline checks

    func validateTimeline(_ scenario: Scenario) throws(ScenarioError) {
        var lastAbsolute = Duration.zero
        var active: Set<String> = []
        var everAdded: Set<String> = []
        for step in scenario.timeline {
            guard case .action(let at, let action) = step.kind else { continue }
            if case .absolute(let time)? = at {
                guard time >= lastAbsolute else {
                    throw ScenarioError(location: step.location, message: "impossible timeline: 'at: \(time.flatlineDescription)' comes before an earlier step at \(lastAbsolute.flatlineDescription); use '+\(time.flatlineDescription)' for a time relative to the previous step")
                }
                lastAbsolute = time
            }
            switch action {
            case .addFault(let fault):
                guard !active.contains(fault.name) else {
                    throw ScenarioError(location: step.location, message: "fault '\(fault.name)' is already on; give the second one another 'name'")
                }
                active.insert(fault.name)
                everAdded.insert(fault.name)
            case .removeFault(let name):
                guard active.contains(name) else {
                    let hint = closestMatch(to: name, in: Array(active)).map { " (did you mean '\($0)'?)" } ?? ""
                    throw ScenarioError(location: step.location, message: "'heal: \(name)' names no fault that is on at this point\(hint); faults on: \(active.isEmpty ? "none" : active.sorted().joined(separator: ", "))")
                }
                active.remove(name)
            case .heal:
                active.removeAll()
            default:
                break
            }
        }
        for step in scenario.timeline {
            if case .expectNone(_, .whileFault(let name)) = step.kind, !everAdded.contains(name) {
                let hint = closestMatch(to: name, in: Array(everAdded)).map { " (did you mean '\($0)'?)" } ?? ""
                throw ScenarioError(location: step.location, message: "'while: \(name)' names no fault of this timeline\(hint)")
            }
        }
        for step in scenario.timeline {
            guard case .action(_, .server(let action)) = step.kind else { continue }
            switch scenario.externalServer {
            case .upstream?:
                throw ScenarioError(location: step.location, message: "'server: \(action.rawValue)' needs a server Flatline runs; this scenario's server is an upstream it does not control")
            case .command? where action == .mute || action == .unmute:
                throw ScenarioError(location: step.location, message: "'server: \(action.rawValue)' needs the built-in server; a command server can be stopped, started, killed, frozen and resumed")
            default:
                break
            }
        }
        if case .external = scenario.client {
            for step in scenario.timeline {
                if case .action(_, .clientSend) = step.kind {
                    throw ScenarioError(location: step.location, message: "'client: send' needs the built-in client")
                }
            }
        }
    }
}
