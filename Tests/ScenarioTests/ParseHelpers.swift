import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel

/// A scenario with a built-in client and an empty timeline, for steps to be appended.
let scenarioBase = """
    name: t
    client:
      heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
      reconnect: {delay: 200ms}
    timeline:

    """

/// The error of parsing `text` (then running it in `mode`), as the user sees it, or "no error".
func parseError(_ text: String, in mode: NetworkMode? = nil) -> String {
    do {
        let scenario = try Scenario.parse(text, file: "scenarios/x.yaml")
        if let mode { _ = try scenario.in(mode) }
        return "no error"
    } catch {
        return error.description
    }
}
