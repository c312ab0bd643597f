import EventSchema
import HeartbeatCore
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel
import Testing

private func scenario(_ timeline: String, assert: String = "") throws -> Scenario {
    let text = """
        name: judged
        client:
          heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
          reconnect: {delay: 200ms}
        timeline:
        \(timeline)
        \(assert.isEmpty ? "" : "assert:\n" + assert)
        """
    return try Scenario.parse(text, file: "judged.yaml")
}

private func ev(_ ms: Int64, _ source: String, _ type: String, _ fields: JSONObject = [:]) -> EventRecord {
    EventRecord(t: .milliseconds(ms), type: EventType(source: EventSource(rawValue: source)!, name: type), fields: fields)
}

private func step(_ ms: Int64, _ index: Int64) -> EventRecord { ev(ms, "runner", "step", ["index": .int(index)]) }

@Suite("Judging recordings")
struct JudgeTests {
    let timeline = """
          - fault: {type: blackhole, name: cable}
          - expect: client disconnected reason=heartbeat-timeout
            within: heartbeat.interval + heartbeat.timeout + 50ms
            not-before: heartbeat.timeout
          - expect-none: client connected
            while: cable
          - at: +1s
            heal: cable
        """

    @Test func measuresFromThePreviousAction() throws {
        let s = try scenario(timeline)
        let events = [
            step(100, 1), ev(100, "proxy", "fault-on", ["fault": "cable"]),
            ev(600, "client", "disconnected", ["reason": "heartbeat-timeout"]),
            step(1100, 4), ev(1100, "proxy", "fault-off", ["fault": "cable"]), ev(1300, "client", "connected"),
        ]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.map(\.outcome) == [.passed, .passed])
        #expect(verdicts[0].measured == .milliseconds(500))
        #expect(verdicts[0].margin == .milliseconds(0))
    }

    @Test func lateEarlyAndMissingAreFailuresWithReasons() throws {
        let s = try scenario(timeline)
        let late = Judge.judge(s, events: [step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(501, "client", "disconnected", ["reason": "heartbeat-timeout"]), step(1000, 4)])
        #expect(late[0].outcome == .failed)
        #expect(late[0].message.contains("late by 1.00ms"))
        let early = Judge.judge(s, events: [step(0, 1), ev(100, "client", "disconnected", ["reason": "heartbeat-timeout"]), step(1000, 4)])
        #expect(early[0].message.contains("earlier than allowed"))
        let missing = Judge.judge(s, events: [step(0, 1), ev(100, "client", "disconnected", ["reason": "reset"]), step(1000, 4)])
        #expect(missing[0].message.contains("not seen within 500ms"))
        #expect(missing[0].message.contains("saw instead: client disconnected {reason: reset} at +100ms"))
    }

    @Test func expectNoneWhileAFaultIsOn() throws {
        let s = try scenario(timeline)
        let verdicts = Judge.judge(s, events: [
            step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(450, "client", "disconnected", ["reason": "heartbeat-timeout"]),
            ev(700, "client", "connected", ["conn": 2]), step(1000, 4), ev(1000, "proxy", "fault-off", ["fault": "cable"]),
        ])
        #expect(verdicts[1].outcome == .failed)
        #expect(verdicts[1].message == "client connected {conn: 2} at +700ms during while 'cable' was on")
    }

    @Test func slackWidensWithin() throws {
        let s = try scenario(timeline)
        let events = [step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(550, "client", "disconnected", ["reason": "heartbeat-timeout"]), step(1000, 4)]
        #expect(Judge.judge(s, events: events)[0].outcome == .failed)
        let slack = try Slack(parsing: "20%")
        #expect(Judge.judge(s, events: events, slack: slack)[0].outcome == .passed)
    }

    @Test func eventsAfterTeardownDoNotCount() throws {
        let s = try scenario("  - wait: 100ms", assert: "  - count client connecting == 1")
        let events = [ev(0, "client", "connecting"), step(100, 1), ev(150, "runner", "teardown"), ev(160, "client", "connecting")]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.filter(\.failed).isEmpty)
    }

    @Test func assertionsOverTheWholeRun() throws {
        let s = try scenario("  - wait: 1s", assert: """
              - max-concurrent client connections <= 1
              - reconnect-gaps non-decreasing
              - reconnect-gaps <= 250ms
              - spread client connected attempt=1 >= 100ms
            """)
        let events = [
            ev(0, "client", "connected", ["conn": 1, "attempt": 0]),
            ev(100, "client", "disconnected", ["conn": 1]), ev(300, "client", "connecting", ["conn": 2]),
            ev(310, "client", "connected", ["conn": 2, "attempt": 1]), ev(320, "client", "connected", ["conn": 3, "attempt": 1]),
            ev(400, "client", "disconnected", ["conn": 2]), ev(500, "client", "connecting", ["conn": 4]),
            step(1000, 1),
        ]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.count == 4)
        #expect(verdicts[0].outcome == .failed, "two connections open at once")
        #expect(verdicts[0].message.contains("client 1 had 2 at once (#2, #3)"))
        #expect(verdicts[1].outcome == .failed, "gaps 200ms then 100ms shrink")
        #expect(verdicts[2].outcome == .passed)
        #expect(verdicts[3].outcome == .failed, "spread of 10ms")
    }

    /// A wire check without a capture saw nothing: it is not judged, never passed; --strict fails it.
    @Test func wireChecksWithoutACaptureAreNotJudged() throws {
        let s = try scenario("""
              - fault: {type: blackhole, name: cable}
              - expect-none: wire fin-or-rst to=client
                while: cable
              - expect: wire fin from=client
                within: 1s
              - at: +1s
                heal: cable
            """, assert: "  - count wire syn >= 1")
        let events = [
            ev(0, "runner", "capture", ["status": "skipped", "reason": "packet capture needs root or CAP_NET_RAW"]),
            step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), step(1000, 4),
        ]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.map(\.outcome) == [.notJudged, .notJudged, .notJudged])
        #expect(verdicts.allSatisfy { $0.message.contains("CAP_NET_RAW") })
        #expect(verdicts[0].line.hasPrefix("– step 2"))
        let strict = Judge.judge(s, events: events, strict: true)
        #expect(strict.map(\.outcome) == [.failed, .failed, .failed])
        #expect(strict[0].message.contains("--strict"))

        // Captured, the same checks are judged: the FIN that was not there fails.
        let captured = [ev(0, "runner", "capture", ["status": "started"])] + events.dropFirst() + [ev(1200, "wire", "syn")]
        #expect(Judge.judge(s, events: captured).map(\.outcome) == [.passed, .failed, .passed])
    }

    /// An external client that prints no events gives no evidence of its connections: checks on
    /// client events are not judged (before, they passed without a single observation).
    @Test func anExternalClientThatPrintsNothingIsNotJudged() throws {
        let text = """
            name: silent
            client: {command: [python3, client.py, "{url}"]}
            timeline:
              - fault: {type: blackhole, name: cable}
              - expect-none: client connected
                while: cable
              - expect-none: client disconnected
                for: 1s
              - at: +1s
                heal: cable
            assert:
              - max-concurrent client connections <= 1
              - count client output >= 1
            """
        let s = try Scenario.parse(text, file: "silent.yaml")
        let events = [step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(5, "client", "output", ["line": "hello"]), step(1000, 4)]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.map(\.outcome) == [.notJudged, .notJudged, .notJudged, .passed])
        #expect(verdicts[0].message.contains("printed no events"))
        // Once it prints events in the schema, the same checks are judged.
        let printing = events + [ev(1100, "client", "connected", ["conn": 1])]
        #expect(Judge.judge(s, events: printing).map(\.outcome) == [.passed, .passed, .passed, .passed])
        // And when the proxy observed its connections (a listener of its own), not seeing one is
        // evidence: a connection during the outage fails the check.
        let observed = [ev(0, "runner", "observing", ["clients": 1])] + events
        #expect(Judge.judge(s, events: observed).map(\.outcome) == [.passed, .passed, .passed, .passed])
        let connectedDuringCable = observed + [ev(500, "client", "connected", ["conn": 1, "observed": true])]
        #expect(Judge.judge(s, events: connectedDuringCable).map(\.outcome) == [.failed, .passed, .passed, .passed])
    }

    @Test func junitMarksNotJudgedAsSkipped() throws {
        let s = try scenario("  - wait: 10ms", assert: "  - count wire syn >= 1")
        let verdicts = Judge.judge(s, events: [step(10, 1)])
        let result = ScenarioResult(scenario: s, verdicts: verdicts, setupError: nil, duration: .milliseconds(10), recordingPath: nil, timeline: [])
        #expect(result.passed)
        #expect(result.notJudged == 1)
        let xml = Reports.junit([result])
        #expect(xml.contains(#"skipped="1""#))
        #expect(xml.contains(#"<skipped message="not judged: the run was not captured"#))
        #expect(!xml.contains("<failure"))
        #expect(Reports.summary([result], wall: .milliseconds(10)).last?.contains("1 checks not judged") == true)
    }

    /// Every check is measured from the recorded time of the step before it, waits included.
    @Test func checksAreMeasuredFromTheRecordedStepTimes() throws {
        let s = try scenario("""
              - fault: {type: blackhole, name: cable}
              - wait: 200ms
              - expect: client disconnected
                within: 500ms
            """)
        // The wait ended 30 ms late: the check counts from when it really ended.
        let events = [step(0, 1), step(230, 2), ev(600, "client", "disconnected", ["reason": "heartbeat-timeout"])]
        let verdict = try #require(Judge.judge(s, events: events).first)
        #expect(verdict.reference == .milliseconds(230))
        #expect(verdict.measured == .milliseconds(370))
        #expect(TimelineRule.referenceStep(of: s.timeline[2], in: s.timeline)?.index == 2)
        #expect(TimelineRule.reference(of: s.timeline[0], in: s.timeline, stepTimes: [:]) == .zero)
        #expect(TimelineRule.reference(of: s.timeline[2], in: s.timeline, stepTimes: [1: .zero]) == nil)
    }

    /// A broken client's scenario passes when the check aimed at it catches it, and fails when the
    /// client gets through (or is caught by another check, or with another message).
    @Test func mustFailScenariosPassWhenCaughtAndFailWhenNot() throws {
        let text = """
            name: broken
            must-fail: {check: step 1, message: "not seen within"}
            timeline:
              - expect: client connected
                within: 100ms
            """
        let s = try Scenario.parse(text, file: "broken.yaml")
        let caught = ScenarioResult(scenario: s, verdicts: Judge.judge(s, events: [ev(500, "client", "connecting")]), setupError: nil, duration: .zero, recordingPath: nil, timeline: [])
        #expect(caught.caught == true)
        #expect(caught.passed)
        let through = ScenarioResult(scenario: s, verdicts: Judge.judge(s, events: [ev(50, "client", "connected")]), setupError: nil, duration: .zero, recordingPath: nil, timeline: [])
        #expect(through.caught == false)
        #expect(!through.passed)
        let xml = Reports.junit([caught, through])
        #expect(xml.contains(#"tests="2" failures="1""#), "\(xml)")
        #expect(xml.contains("not caught: expected step 1 to fail with a message containing"), "\(xml)")
        #expect(xml.contains("; it passed: "))
        #expect(Reports.summary([caught, through], wall: .zero).contains { $0.contains("caught") })
    }
}
