import EventSchema
import HeartbeatCore
import Scenario
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
    EventRecord(t: .milliseconds(ms), source: source, type: type, fields: fields)
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
        #expect(verdicts.map(\.ok) == [true, true])
        #expect(verdicts[0].measured == .milliseconds(500))
        #expect(verdicts[0].margin == .milliseconds(0))
    }

    @Test func lateEarlyAndMissingAreFailuresWithReasons() throws {
        let s = try scenario(timeline)
        let late = Judge.judge(s, events: [step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(501, "client", "disconnected", ["reason": "heartbeat-timeout"]), step(1000, 4)])
        #expect(late[0].ok == false)
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
        #expect(verdicts[1].ok == false)
        #expect(verdicts[1].message == "client connected {conn: 2} at +700ms during while 'cable' was on")
    }

    @Test func slackWidensWithin() throws {
        let s = try scenario(timeline)
        let events = [step(0, 1), ev(0, "proxy", "fault-on", ["fault": "cable"]), ev(550, "client", "disconnected", ["reason": "heartbeat-timeout"]), step(1000, 4)]
        #expect(Judge.judge(s, events: events)[0].ok == false)
        let slack = try Slack(parsing: "20%")
        #expect(Judge.judge(s, events: events, slack: slack)[0].ok == true)
    }

    @Test func eventsAfterTeardownDoNotCount() throws {
        let s = try scenario("  - wait: 100ms", assert: "  - count client connecting == 1")
        let events = [ev(0, "client", "connecting"), step(100, 1), ev(150, "runner", "teardown"), ev(160, "client", "connecting")]
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.filter { !$0.ok }.isEmpty)
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
        #expect(verdicts[0].ok == false, "two connections open at once")
        #expect(verdicts[0].message.contains("client 1 had 2 at once (#2, #3)"))
        #expect(verdicts[1].ok == false, "gaps 200ms then 100ms shrink")
        #expect(verdicts[2].ok == true)
        #expect(verdicts[3].ok == false, "spread of 10ms")
    }
}
