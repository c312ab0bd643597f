import EventSchema
import Foundation
@testable import Scenario
import ScenarioJudging
import ScenarioReporting
@testable import ScenarioModel
import Testing

@Suite("Reports: pages, index, shards")
struct ReportTests {
    static let files = (1...7).map { "scenarios/s\($0).yaml" }

    @Test(arguments: 1...4)
    func shardsCoverEveryFileOnceAndStayStable(count: Int) throws {
        var seen: [String] = []
        for index in 1...count {
            let shard = try ScenarioShards.Shard(parsing: "\(index)/\(count)")
            let mine = ScenarioShards.select(Self.files, shard: shard, durations: [:])
            // Stable: the order the files are given in does not change the split.
            #expect(Set(mine) == Set(ScenarioShards.select(Self.files.reversed(), shard: shard, durations: [:])))
            #expect(mine.count >= Self.files.count / count && mine.count <= Self.files.count / count + 1)
            seen += mine
        }
        #expect(seen.sorted() == Self.files)
    }

    @Test func durationsBalanceTheShards() throws {
        let durations = ["scenarios/s1.yaml": 30.0, "scenarios/s2.yaml": 10, "scenarios/s3.yaml": 10, "scenarios/s4.yaml": 10]
        let first = ScenarioShards.select(Self.files, shard: try .init(parsing: "1/2"), durations: durations)
        let second = ScenarioShards.select(Self.files, shard: try .init(parsing: "2/2"), durations: durations)
        // Longest first onto the least-loaded shard; s5–s7 count as the median of the known (10 s).
        #expect(first == ["scenarios/s1.yaml", "scenarios/s5.yaml", "scenarios/s7.yaml"])
        #expect(second == ["scenarios/s2.yaml", "scenarios/s3.yaml", "scenarios/s4.yaml", "scenarios/s6.yaml"])
    }

    @Test(arguments: ["0/2", "3/2", "x/2", "2", "1/0", ""])
    func badShardsAreRefused(text: String) {
        #expect(throws: ConfigurationError.self) { try ScenarioShards.Shard(parsing: text) }
    }

    @Test func relativePaths() {
        #expect(RunReport.relativePath(from: "runs", to: "runs/a/1/report.html") == "a/1/report.html")
        #expect(RunReport.relativePath(from: "out", to: "runs-2/a/1/report.html") == "../runs-2/a/1/report.html")
        #expect(RunReport.relativePath(from: "/x/runs/a/1", to: "/x/junit.xml") == "../../../junit.xml")
        #expect(RunReport.relativePath(from: "./runs", to: "runs/../runs/b") == "b")
    }

    static func recording(name: String, complete: Bool = true) -> Recording {
        let text = "name: \(name)\ntimeline:\n  - wait: 1s\n"
        let ms = { (n: Int64) in Duration.milliseconds(n) }
        var events = [
            EventRecord(t: ms(10), ClientEventType.connecting, fields: ["conn": 1, "attempt": 0]),
            EventRecord(t: ms(20), ClientEventType.connected, fields: ["conn": 1, "attempt": 0]),
            EventRecord(t: ms(30), ProxyEventType.connOpened, fields: ["conn": 1]),
            EventRecord(t: ms(100), ProxyEventType.faultOn, fields: ["fault": "cable", "kind": "blackhole", "direction": "both"]),
            EventRecord(t: ms(300), ClientEventType.heartbeatSent, fields: ["conn": 1, "seq": 1]),
            EventRecord(t: ms(450), ClientEventType.disconnected, fields: ["conn": 1, "reason": "heartbeat-timeout"]),
            EventRecord(t: ms(900), ProxyEventType.faultOff, fields: ["fault": "cable"]),
        ]
        events.append(EventRecord(t: ms(1000), ServerEventType.stopped))
        var recording = Recording(scenarioFile: "x.yaml", scenarioText: text, configuration: ["name": .string(name), "network": "proxy"], events: events, verdicts: [])
        recording.complete = complete
        return recording
    }

    @Test func aPageHasItsLanesWindowsAndIsSelfContained() {
        let verdict = Verdict(check: "step 2", label: "expect client disconnected within 500ms", location: "x.yaml:4:5", outcome: .failed, measured: .milliseconds(600), bound: .milliseconds(500), message: "too late", reference: .milliseconds(100))
        let html = RunReport.html(RunReport.Input(recording: Self.recording(name: "a </script><script>alert(1)</script>"), scenario: nil, verdicts: [verdict]))
        for lane in ["steps", "client", "proxy", "server", "checks"] { #expect(html.contains(#"data-lane="\#(lane)""#)) }
        #expect(html.contains(#"class="fault-window" data-a="100" data-b="900""#))
        #expect(html.contains("blackhole both &apos;cable&apos;"))
        #expect(html.contains(#"<g class="check failed""#))
        #expect(html.contains(#"class="tick missed""#), "the heartbeat that got no reply stands out")
        #expect(html.contains(#"class="conn abandoned""#))
        #expect(html.contains(#"id="status">failed<"#))
        #expect(!html.contains("<script>alert(1)"), "names are escaped")
        #expect(!html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"), "nothing is loaded from elsewhere")
    }

    /// A 60-second run (heartbeats every 150 ms, each a frame on the wire both ways) stays under 500 KB.
    @Test func aMinuteLongRunMakesASmallPage() {
        var recording = Self.recording(name: "long")
        var events = recording.events
        for n in 0..<400 {
            let t = Duration.milliseconds(Int64(n * 150))
            events.append(EventRecord(t: t, ClientEventType.heartbeatSent, fields: ["conn": 1, "seq": .int(Int64(n))]))
            events.append(EventRecord(t: t + .microseconds(300), WireEventType.frame, fields: ["from": "client", "to": "proxy", "opcode": "text", "length": 20, "port": 40000]))
            events.append(EventRecord(t: t + .microseconds(900), WireEventType.frame, fields: ["from": "proxy", "to": "client", "opcode": "text", "length": 20, "port": 40000]))
            events.append(EventRecord(t: t + .milliseconds(1), ClientEventType.heartbeatAcked, fields: ["conn": 1, "seq": .int(Int64(n)), "rtt_ms": 1]))
        }
        recording.events = events.sorted { $0.t < $1.t }
        let html = RunReport.html(RunReport.Input(recording: recording, scenario: nil, verdicts: []))
        #expect(html.utf8.count < 500_000, "\(html.utf8.count) bytes")
        #expect(html.contains(#"data-lane="wire""#))
    }

    @Test func anIncompleteRunIsMarkedNotPassed() {
        let html = RunReport.html(RunReport.Input(recording: Self.recording(name: "cut", complete: false), scenario: nil, verdicts: [], incomplete: "the run was cut short"))
        #expect(html.contains(#"id="incomplete""#))
        #expect(html.contains(#"id="status">incomplete<"#))
        #expect(RunOutcome.decide(verdicts: [], mustFail: nil, setupError: nil, incomplete: true) == .incomplete)
        #expect(RunOutcome.decide(verdicts: [], mustFail: nil, setupError: "port in use") == .error)
    }

    @Test func aConnectionsBarStartsAtTheAcceptAndShowsItsHandshake() {
        let ms = { (n: Int64) in Duration.milliseconds(n) }
        let events = [
            EventRecord(t: ms(10), ClientEventType.connecting, fields: ["conn": 1, "observed": true]),
            EventRecord(t: ms(240), ClientEventType.connected, fields: ["conn": 1, "observed": true]),
            EventRecord(t: ms(700), ClientEventType.closeSent, fields: ["conn": 1, "observed": true]),
            EventRecord(t: ms(900), ClientEventType.abandoned, fields: ["conn": 1, "how": "redial", "open": true, "observed": true]),
            EventRecord(t: ms(900), ClientEventType.connecting, fields: ["conn": 2, "observed": true]),
        ]
        let recording = Recording(scenarioFile: "x.yaml", scenarioText: "name: x\ntimeline:\n  - wait: 1s\n", configuration: ["name": "x", "network": "proxy"], events: events, verdicts: [])
        let html = RunReport.html(RunReport.Input(recording: recording, scenario: nil, verdicts: []))
        #expect(html.contains("TCP accepted at 10"))
        #expect(html.contains("upgraded (101) at 240"))
        #expect(html.contains("close frame sent on #1"))
        #expect(html.contains("left open at 900"))
    }
}
