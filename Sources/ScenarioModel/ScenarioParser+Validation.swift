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
            case .clientOffline, .clientOnline:
                try validateNetworkSwitch(action, at: step, in: scenario, active: &active)
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

    /// `client: offline` / `client: online`: a browser's emulated network, in pairs; the offline
    /// blackhole is a fault of the timeline like any other (named ``Step/Action/offlineFaultName``).
    private func validateNetworkSwitch(_ action: Step.Action, at step: Step, in scenario: Scenario, active: inout Set<String>) throws(ScenarioError) {
        let name = Step.Action.offlineFaultName
        guard scenario.browser != nil else {
            throw ScenarioError(location: step.location, message: "'\(action.label)' needs a browser client (it is Chromium's emulated network: the page's offline and online events, new connections failing in the browser); for any other client use 'fault: {type: blackhole}'")
        }
        if case .clientOffline = action {
            guard !active.contains(name) else {
                throw ScenarioError(location: step.location, message: "the client is already offline here (a fault named '\(name)' is on); 'client: online' first")
            }
            active.insert(name)
        } else {
            guard active.contains(name) else {
                throw ScenarioError(location: step.location, message: "'client: online' with the client not offline (no 'client: offline' before it, or a 'heal: all' in between, which ends the offline blackhole)")
            }
            active.remove(name)
        }
    }
}
