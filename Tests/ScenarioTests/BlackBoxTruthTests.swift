import EventSchema
import FaultProxy
import FaultModel
import HeartbeatCore
@testable import Scenario
import ScenarioJudging
import ScenarioReporting
@testable import ScenarioModel
import Testing
import WireCapture

/// What a black-box client's observed events mean: a close frame declares, a released socket or a
/// new attempt gives the connection up; packet mode times the client's side from the capture.
@Suite("Black-box verdicts")
struct BlackBoxTruthTests {
    /// An observer fed proxy events at chosen milliseconds after the log's origin.
    struct Observed {
        let log = EventLog(origin: .now)
        let observer: ClientObserver

        init(dialect: HeartbeatDialect = .ping, packetMode: Bool = false) {
            observer = ClientObserver(tag: nil, log: log, dialect: dialect, packetMode: packetMode)
        }

        func proxy(_ ms: Int64, _ type: ProxyEventType, _ fields: JSONObject) {
            observer.observe(ProxyEvent(at: log.origin + .milliseconds(ms), type: type, fields: fields))
        }

        func client(_ type: ClientEventType) -> [(ms: Int64, fields: JSONObject)] {
            log.events.filter { $0.type == .client(type) }.map { ($0.t.nanoseconds / 1_000_000, $0.fields) }
        }
    }

    static func blackBox(_ timeline: String, network: String = "proxy", assert: String = "") throws -> Scenario {
        try Scenario.parse("""
            name: black-box
            network: \(network)
            client:
              command: [true]
              heartbeat: {dialect: ping, interval: 300ms, timeout: 150ms}
              reconnect: {delay: 200ms}
            timeline:
            \(timeline)
            \(assert.isEmpty ? "" : "assert:\n" + assert)
            """, file: "black-box.yaml")
    }

    @Test func aCloseFrameDeclaresButDoesNotDisconnect() {
        let o = Observed()
        o.proxy(0, .connOpened, ["conn": 1, "client": "127.0.0.1:40001"])
        o.proxy(5, .upgraded, ["conn": 1])
        o.proxy(450, .frame, ["conn": 1, "flow": "upstream", "opcode": "close"])
        #expect(o.client(.closeSent).map(\.ms) == [450])
        #expect(o.client(.disconnected).isEmpty)
        #expect(o.client(.abandoned).isEmpty)
        // Its FIN, later: now the socket is gone, and given up.
        o.proxy(1500, .connClosed, ["conn": 1, "side": "client", "how": "fin"])
        #expect(o.client(.disconnected).map(\.ms) == [1500])
        #expect(o.client(.abandoned).map { $0.fields["how"] } == ["client-fin"])
    }

    @Test func aNewAttemptGivesTheOldSocketUpAndShowsTheLeak() {
        let o = Observed()
        o.proxy(0, .connOpened, ["conn": 1, "client": "127.0.0.1:40001"])
        o.proxy(5, .upgraded, ["conn": 1])
        o.proxy(660, .connOpened, ["conn": 2, "client": "127.0.0.1:40002"])
        let abandoned = o.client(.abandoned)
        #expect(abandoned.map(\.ms) == [660])
        #expect(abandoned.first?.fields["how"] == "redial")
        #expect(abandoned.first?.fields["open"] == true)
        #expect(abandoned.first?.fields["conn"] == 1)
        // A server FIN alone leaves the client's half open: not a disconnect.
        o.proxy(700, .connClosed, ["conn": 2, "side": "server", "how": "fin", "forwarded": true])
        #expect(o.client(.disconnected).isEmpty)
        // A pong reaching the abandoned connection is not an acknowledged heartbeat.
        o.proxy(800, .frame, ["conn": 1, "flow": "downstream", "opcode": "pong"])
        #expect(o.client(.heartbeatAcked).isEmpty)
    }

    @Test func packetModeTimesTheClientSideFromTheCapture() {
        let o = Observed(packetMode: true)
        o.proxy(0, .connOpened, ["conn": 1, "client": "127.0.0.1:40001"])
        o.proxy(5, .upgraded, ["conn": 1])
        // During the cable the proxy sees nothing; the capture sees the FIN and the next SYN.
        o.observer.observeWire(.fin, clientPort: 40001, opcode: nil, at: .milliseconds(452))
        o.observer.observeWire(.syn, clientPort: 40002, opcode: nil, at: .milliseconds(655))
        // After the heal the proxy catches up: nothing is derived twice or late.
        o.proxy(1510, .connClosed, ["conn": 1, "side": "client", "how": "fin"])
        o.proxy(1520, .frame, ["conn": 1, "flow": "upstream", "opcode": "ping"])
        o.proxy(1530, .connOpened, ["conn": 2, "client": "127.0.0.1:40002"])
        #expect(o.client(.disconnected).map(\.ms) == [452])
        #expect(o.client(.abandoned).map(\.ms) == [452])
        #expect(o.client(.heartbeatSent).isEmpty)
        #expect(o.client(.connecting).map(\.ms) == [0, 1530])
    }

    let detection = """
          - fault: {type: blackhole, name: cable}
          - expect: client abandoned
            within: heartbeat.interval + heartbeat.timeout + reconnect.delay + 100ms
          - at: +2s
            heal: cable
        """

    private func recording(_ events: [EventRecord], network: String = "proxy", captured: Bool = false) -> [EventRecord] {
        var all = [EventRecord(t: .zero, RunnerEventType.observing, fields: ["clients": 1])]
        all.append(EventRecord(t: .zero, RunnerEventType.capture, fields: captured ? ["status": "started"] : ["status": "skipped", "reason": "not asked"]))
        return all + events
    }

    private func observed(_ ms: Int64, _ type: String, _ fields: JSONObject = [:]) -> EventRecord {
        var all = fields
        all["observed"] = true
        all["conn"] = all["conn"] ?? 1
        return EventRecord(t: .milliseconds(ms), type: EventType(source: .client, name: type), fields: all)
    }

    private func step(_ ms: Int64, _ index: Int64) -> EventRecord {
        EventRecord(t: .milliseconds(ms), RunnerEventType.step, fields: ["index": .int(index)])
    }

    @Test func theSeedsMistakeIsCaughtAndTheLeakingRedialPasses() throws {
        let s = try Self.blackBox(detection)
        // A close frame and then neither a FIN nor a new attempt: not detected.
        let mistaken = Judge.judge(s, events: recording([step(0, 1), observed(450, "close-sent"), step(2000, 3), observed(2010, "disconnected", ["reason": "client-fin"]), observed(2010, "abandoned", ["how": "client-fin"])]))
        #expect(mistaken[0].outcome == .failed)
        #expect(mistaken[0].message.contains("late by"))
        // Declared, and redialled after its delay with the old socket left open: detected, on time.
        let leaking = Judge.judge(s, events: recording([step(0, 1), observed(450, "close-sent"), observed(650, "abandoned", ["how": "redial", "open": true])]))
        #expect(leaking[0].outcome == .passed)
    }

    @Test func leftBehindIsALeakButStillSendingIsASecondConnection() throws {
        let s = try Self.blackBox("  - wait: 10ms", assert: "  - max-concurrent client connections <= 1")
        let leak = [observed(0, "connected"), observed(600, "abandoned", ["how": "redial", "open": true]), observed(600, "connecting", ["conn": 2]), observed(605, "connected", ["conn": 2]), observed(900, "disconnected", ["reason": "client-rst"])]
        func asserted(_ events: [EventRecord]) -> [Verdict] { Judge.judge(s, events: recording(events)).filter { $0.check.hasPrefix("assert") } }
        #expect(asserted(leak).map(\.outcome) == [.passed])
        // No reconnect lock: both connections go on heartbeating.
        let twoInUse = leak.dropLast() + [observed(700, "heartbeat-sent"), observed(710, "heartbeat-sent", ["conn": 2])]
        let verdict = asserted(twoInUse.sorted { $0.t < $1.t })
        #expect(verdict.map(\.outcome) == [.failed])
        #expect(verdict.first?.message.contains("had 2 at once") == true)
    }

    @Test func packetModeWithoutACaptureIsNotJudgedNeverLate() throws {
        let s = try Self.blackBox(detection, network: "packet", assert: "  - max-concurrent client connections <= 1")
        // The client's FIN reached the proxy only after the heal: from the proxy, it looks late.
        let events = recording([step(0, 1), step(2000, 3), observed(2010, "disconnected", ["reason": "client-fin"]), observed(2010, "abandoned", ["how": "client-fin"])], network: "packet")
        let verdicts = Judge.judge(s, events: events)
        #expect(verdicts.map(\.outcome) == [.notJudged, .notJudged])
        #expect(verdicts[0].message.contains("only a capture sees the client's side"))
        // With a capture it is judged (and here, the events say it late).
        let captured = Judge.judge(s, events: recording([step(0, 1), step(2000, 3), observed(2010, "abandoned", ["how": "client-fin"])], captured: true))
        #expect(captured[0].outcome == .failed)
    }

    @Test func aSelfReportingClientIsNotJudgedOnObservedOnlyEvents() throws {
        let s = try Self.blackBox(detection)
        let own = EventRecord(t: .milliseconds(400), ClientEventType.disconnected, fields: ["conn": 1, "reason": "heartbeat-timeout"])
        let verdicts = Judge.judge(s, events: recording([step(0, 1), own]))
        #expect(verdicts[0].outcome == .notJudged)
        #expect(verdicts[0].message.contains("check `client disconnected`"))
    }

    @Test func mustFailSaysWhatWasExpectedAndWhatCame() throws {
        let mustFail = Scenario.MustFail(check: "step 2", message: "not seen within")
        let late = Verdict(check: "step 2", label: "", location: "", outcome: .failed, measured: nil, bound: nil, message: "seen after 2003ms, bound 850ms, late by 1153ms", reference: nil)
        #expect(mustFail.mismatch(in: [late]) == "not caught as written: step 2 failed, but its message does not contain 'not seen within'; it said: seen after 2003ms, bound 850ms, late by 1153ms")
        var passed = late
        passed.outcome = .passed
        passed.message = "450ms ≤ 850ms"
        #expect(mustFail.mismatch(in: [passed])?.hasPrefix("not caught: expected step 2 to fail with a message containing 'not seen within'; it passed: 450ms") == true)
        #expect(mustFail.mismatch(in: [])?.contains("the run has no step 2") == true)
        var caught = late
        caught.message = "client abandoned not seen within 850ms"
        #expect(mustFail.mismatch(in: [caught]) == nil)
    }

    @Test func varsHaveDefaultsAndAreSetByName() throws {
        let text = """
            name: twins
            vars: {mode: fixed}
            client:
              command: [node, client.mjs, --mode, "{var.mode}", "{url}"]
              heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
            timeline:
              - wait: 10ms
            """
        func command(_ s: Scenario) -> [String] {
            if case .external(let command, _, _, _) = s.client { return command }
            return []
        }
        #expect(command(try Scenario.parse(text, file: "t.yaml")) == ["node", "client.mjs", "--mode", "fixed", "{url}"])
        #expect(command(try Scenario.parse(text, file: "t.yaml", vars: ["mode": "faithful"])) == ["node", "client.mjs", "--mode", "faithful", "{url}"])
        #expect(throws: ScenarioError.self) { try Scenario.parse(text, file: "t.yaml", vars: ["mood": "x"]) }
        do {
            _ = try Scenario.parse(text, file: "t.yaml", vars: ["mood": "x"])
        } catch {
            #expect("\(error)".contains("declares no var 'mood'"))
            #expect("\(error)".contains("mode"))
        }
        let unknown = text.replacingOccurrences(of: "{var.mode}", with: "{var.speed}")
        #expect(throws: ScenarioError.self) { try Scenario.parse(unknown, file: "t.yaml") }
    }

    @Test func theRunsOutcomeIsDecidedOnce() {
        func verdict(_ outcome: Verdict.Outcome, _ message: String = "") -> Verdict {
            Verdict(check: "step 2", label: "", location: "", outcome: outcome, message: message)
        }
        let mustFail = Scenario.MustFail(check: "step 2", message: "late by")
        #expect(RunOutcome.decide(verdicts: [verdict(.passed)], mustFail: nil, setupError: nil) == .passed)
        #expect(RunOutcome.decide(verdicts: [verdict(.passed), verdict(.failed)], mustFail: nil, setupError: nil) == .failed)
        #expect(RunOutcome.decide(verdicts: [verdict(.notJudged)], mustFail: nil, setupError: nil) == .notJudged)
        #expect(RunOutcome.decide(verdicts: [verdict(.failed, "late by 3ms")], mustFail: mustFail, setupError: nil) == .caught)
        #expect(RunOutcome.decide(verdicts: [verdict(.passed)], mustFail: mustFail, setupError: nil) == .failed)
        #expect(RunOutcome.decide(verdicts: [], mustFail: nil, setupError: "port in use") == .error)
        #expect(RunOutcome.decide(verdicts: [], mustFail: nil, setupError: nil, notRun: true) == .notRun)
        #expect(RunOutcome.decide(verdicts: [verdict(.passed)], mustFail: nil, setupError: nil, incomplete: true) == .incomplete)
        #expect(RunOutcome.allCases.filter(\.succeeded) == [.passed, .caught, .notJudged, .incomplete])
    }
}
