import EventSchema
import HeartbeatCore
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel
import Testing

@Suite("Scenario validation")
struct ScenarioParserTests {
    @Test func unknownFaultSaysWhereAndSuggests() {
        let text = scenarioBase + "  - fault: {type: blackhol, direction: both}\n"
        #expect(parseError(text) == "scenarios/x.yaml:6:19: unknown fault 'blackhol', did you mean 'blackhole'?")
    }

    @Test(arguments: [
        ("  - fault: {type: blackhole, directon: both}\n", "6:30: unknown key 'directon' in a fault, did you mean 'direction'?"),
        ("  - expect: client disconected\n    within: 1s\n", "6:13: unknown client event 'disconected' (did you mean 'disconnected'?)"),
        ("  - expect: client disconnected\n    within: heartbeat.intervl + 50ms\n", "7:13: unknown setting 'heartbeat.intervl' (did you mean 'heartbeat.interval'?)"),
        ("  - expect: client disconnected\n", "6:5: 'expect' needs 'within: <duration expression>'"),
        ("  - wait: 400\n", "6:11: '400' is a plain number, not a duration"),
        ("  - wait: -1s\n", "negative duration in '-1s'"),
        ("  - at: 2s\n    heal: all\n  - at: 1s\n    heal: all\n", "8:5: impossible timeline: 'at: 1s' comes before an earlier step at 2s"),
        ("  - heal: cable\n", "6:5: 'heal: cable' names no fault that is on at this point"),
        ("  - expect-none: client connected\n    while: cabel\n", "'while: cabel' names no fault of this timeline"),
        ("  - server: stpo\n", "unknown server action 'stpo', did you mean 'stop'?"),
        ("  - fault: blackhole\n    expect: client connected\n", "a step does one thing"),
        ("  - wait: 1s\n    within: 2s\n", "'within' does not apply to a 'wait' step"),
        ("  - expect: client disconnected {reason: heartbeat-timeout}\n    within: 1s\n", "must be quoted"),
        ("  - client: frezee\n", "6:13: unknown client action 'frezee', did you mean 'freeze'?"),
        ("  - client: {freeze: 0s}\n", "6:22: a freeze lasts longer than 0"),
        ("  - client: {freeze: 2}\n", "6:22: duration '2' has no unit"),
        ("  - fault: {type: nat-expiry, then: drop}\n", "6:19: nat_expiry needs idle"),
        ("  - fault: {type: nat-expiry, idle: 1s, then: forget}\n", "6:41: nat_expiry then must be drop or reset, got 'forget'"),
        ("  - fault: {type: idle-close, idle: 2h}\n", "6:31: idle_close idle must be at most 60m, got 2h"),
        ("  - client: offline\n", "6:5: 'client offline' needs a browser client (it is Chromium's emulated network"),
        ("  - client: ofline\n", "unknown client action 'ofline', did you mean 'offline'?"),
    ])
    func badTimelinesAreRejectedPrecisely(step: String, fragment: String) {
        let message = parseError(scenarioBase + step)
        #expect(message.contains(fragment), "\(message)")
        #expect(message.hasPrefix("scenarios/x.yaml"), "\(message)")
    }

    @Test func offlineAndOnlineComeInPairsForABrowser() {
        let browser = "name: t\nclient:\n  browser: clients/browser/heartcheck.html\ntimeline:\n"
        #expect(parseError(browser + "  - client: offline\n  - wait: 1s\n  - client: online\n") == "no error")
        #expect(parseError(browser + "  - client: online\n").contains("5:5: 'client: online' with the client not offline"))
        #expect(parseError(browser + "  - client: offline\n  - heal: all\n  - client: online\n").contains("7:5: 'client: online' with the client not offline"))
        #expect(parseError(browser + "  - client: offline\n  - client: offline\n").contains("6:5: the client is already offline here"))
        // The offline blackhole is a fault of the timeline: 'heal: client-offline' ends it too.
        #expect(parseError(browser + "  - client: offline\n  - heal: client-offline\n") == "no error")
    }

    @Test func badClientSettingsNameTheProblem() {
        let text = "name: t\nclient:\n  heartbeat: {dialect: json, interval: 1s, timeout: 2s}\ntimeline:\n  - wait: 1s\n"
        #expect(parseError(text).contains("3:14: heartbeat timeout 2s is not shorter than the interval 1s"))
        let placeholder = "name: t\nclient:\n  command: [node, c.js, \"{heartbeat.intervl.ms}\"]\ntimeline:\n  - wait: 1s\n"
        #expect(parseError(placeholder).contains("3:3: unknown placeholder '{heartbeat.intervl.ms}' in the command (did you mean 'heartbeat.interval.ms'?)"))
        let removed = "name: t\nclient:\n  defects: [no-heartbeat]\ntimeline:\n  - wait: 1s\n"
        #expect(parseError(removed).contains("unknown key 'defects' in client"))
        #expect(parseError("name: t\nclient: {colour: red}\ntimeline: []\n").contains("unknown key 'colour' in client"))
        #expect(parseError("timeline: []\n").contains("a scenario needs a 'name'"))
        let ramp = "name: t\ntime-limit: 10s\nclient:\n  count: 10\n  ramp: 10s\ntimeline:\n  - wait: 1s\n"
        #expect(parseError(ramp).contains("5:9: the ramp (10s) must be shorter than the scenario's time limit (10s)"), "\(parseError(ramp))")
        #expect(parseError(ramp.replacingOccurrences(of: "ramp: 10s", with: "ramp: 9s")) == "no error")
    }

    @Test func quotedAndKeyValueFiltersAreEquivalent() throws {
        let a = try EventPattern.parse("client disconnected {reason: heartbeat-timeout, conn: 2}")
        let b = try EventPattern.parse("client disconnected reason=heartbeat-timeout conn=2")
        #expect(a == b)
        let event = EventRecord(t: .zero, ClientEventType.disconnected, fields: ["conn": 2, "reason": "heartbeat-timeout"])
        #expect(a.matches(event))
        #expect(!a.matches(EventRecord(t: .zero, ClientEventType.disconnected, fields: ["conn": 2, "reason": "reset"])))
    }

    @Test func everyBundledScenarioIsValid() throws {
        for file in try ScenarioFiles.resolve(["scenarios"], recursive: true) {
            // scenarios/explore/ holds worlds for 'flatline explore': valid without a timeline.
            _ = try Scenario.load(path: file, world: file.contains("/explore/"))
        }
    }

    @Test func foldersMeanTheirOwnFilesUnlessRecursive() throws {
        let top = try ScenarioFiles.resolve(["scenarios"], recursive: false)
        #expect(!top.contains { $0.contains("/negative/") })
        let all = try ScenarioFiles.resolve(["scenarios"], recursive: true)
        #expect(all.contains { $0.contains("/negative/") })
        #expect(throws: ScenarioError.self) { try ScenarioFiles.resolve(["no-such-folder"], recursive: false) }
    }
}

@Suite("Duration expressions")
struct DurationExpressionTests {
    let env: [String: DurationExpression.Value] = [
        "heartbeat.interval": .duration(.milliseconds(400)), "heartbeat.timeout": .duration(.milliseconds(200)),
        "reconnect.delay": .duration(.milliseconds(300)), "reconnect.connect-timeout": .duration(.seconds(1)),
        "reconnect.multiplier": .number(2),
    ]

    @Test(arguments: [
        ("heartbeat.interval + heartbeat.timeout + 50ms", Duration.milliseconds(650)),
        ("reconnect.delay * 2", .milliseconds(600)),
        ("heartbeat.timeout * 90%", .milliseconds(180)),
        ("(reconnect.delay + 100ms) * 1.5", .milliseconds(600)),
        ("reconnect.connect-timeout - heartbeat.interval", .milliseconds(600)),
        ("reconnect.delay * reconnect.multiplier / 3", .milliseconds(200)),
        ("2s", .seconds(2)),
    ])
    func evaluates(text: String, expected: Duration) throws {
        #expect(try DurationExpression.parse(text).duration(env) == expected)
    }

    @Test(arguments: [
        ("heartbeat.interval + 50", "cannot add a duration and a plain number"),
        ("heartbeat.interval * heartbeat.timeout", "cannot multiply two durations"),
        ("heartbeat.intervl", "did you mean 'heartbeat.interval'?"),
        ("(heartbeat.interval", "missing ')'"),
    ])
    func rejects(text: String, fragment: String) {
        do {
            _ = try DurationExpression.parse(text).duration(env)
            Issue.record("should fail")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func slackWidensBounds() throws {
        #expect(try Slack(parsing: "20%").widen(.milliseconds(500)) == .milliseconds(600))
        #expect(try Slack(parsing: "50ms").widen(.milliseconds(500)) == .milliseconds(550))
        #expect(try Slack(parsing: "10%+5ms").widen(.milliseconds(100)) == .milliseconds(115))
    }
}
