import EventSchema
@testable import ScenarioModel
import Testing

/// `flatline init`'s starter suite: every file it can write validates, its bounds are written over
/// the client's settings, and its negative twin aims at the detection check.
@Suite("Starter suite (flatline init)")
struct StarterSuiteTests {
    static let clients: [StarterSuite.Client] = [
        .command(["node", "my client.js", "{url}", "--every", "{heartbeat.interval.ms}"]),
        .browser(page: "/tmp/page.html", args: ["mode": "fixed"]),
    ]
    static let servers: [StarterSuite.Server] = [
        .builtin, .command(["python3", "server.py", "--port", "{port}"], readyLine: "serving on"), .upstream("127.0.0.1:8080"),
    ]

    static func suite(
        client: StarterSuite.Client = clients[0], judging: StarterSuite.Judging = .outside, dialect: String = "json", server: StarterSuite.Server = .builtin
    ) -> StarterSuite {
        StarterSuite(
            name: "mine", client: client, judging: judging, dialect: dialect, textPayload: dialect == "text" ? "ping" : nil, textReply: dialect == "text" ? "pong" : nil,
            interval: .seconds(5), timeout: .seconds(2), closeGrace: .milliseconds(100), reconnectDelay: .seconds(1), connectTimeout: .seconds(3), server: server
        )
    }

    @Test(arguments: StarterSuite.Judging.allCases, StarterSuite.dialects)
    func everyFileValidates(judging: StarterSuite.Judging, dialect: String) throws {
        for client in Self.clients {
            for server in Self.servers {
                let files = Self.suite(client: client, judging: judging, dialect: dialect, server: server).files()
                #expect(files.map(\.path) == [
                    "pulled-cable.yaml", "server-power-loss.yaml", "clean-close.yaml", "short-outage.yaml", "network-switch.yaml",
                    "negative/detection-demanded-too-soon.yaml",
                ])
                for (path, text) in files {
                    do { _ = try Scenario.parse(text, file: path) } catch {
                        Issue.record("\(path) (\(judging), \(dialect), \(server)) does not validate: \(error)\n\(text)")
                    }
                }
            }
        }
    }

    @Test func detectionIsJudgedByTheClientsOwnEventsOrFromOutside() throws {
        let own = try Scenario.parse(Self.suite(judging: .own).files()[0].text, file: "own")
        let outside = try Scenario.parse(Self.suite(judging: .outside).files()[0].text, file: "outside")
        let environment = own.environment
        func detection(_ scenario: Scenario) throws -> (String, Duration) {
            for step in scenario.timeline {
                if case .expect(let pattern, let within, _) = step.kind, case .duration(let bound) = try within.evaluate(environment) {
                    return ("\(pattern)", bound)
                }
            }
            throw ConfigurationError("no expect step")
        }
        // Own events: the client's declaration at interval + timeout (+ its close grace).
        #expect(try detection(own) == ("client disconnected", .milliseconds(5_000 + 2_000 + 100 + 250)))
        // From outside: its socket released or its next attempt, which may wait for its delay.
        #expect(try detection(outside) == ("client abandoned", .milliseconds(5_000 + 2_000 + 100 + 1_000 + 250)))
    }

    @Test func theNegativeTwinAimsAtTheDetectionCheck() throws {
        let twin = try Scenario.parse(Self.suite().files()[5].text, file: "twin")
        let mustFail = try #require(twin.mustFail)
        #expect(mustFail.check == "step 4")
        let step = try #require(twin.timeline.first { "step \($0.index)" == mustFail.check })
        guard case .expect(let pattern, let within, _) = step.kind else {
            Issue.record("step 4 is not an expect: \(step.label)")
            return
        }
        #expect("\(pattern)" == "client abandoned")
        // Half an interval: sooner than any heartbeat can tell.
        #expect(try within.evaluate(twin.environment) == .duration(.milliseconds(2_500)))
    }

    @Test func aRunningServerIsClosedByTheProxyNotStopped() throws {
        let text = Self.suite(server: .upstream("127.0.0.1:8080")).files()[2].text
        #expect(text.contains("fault: {type: close"))
        #expect(!text.contains("server: stop"))
        let started = Self.suite(server: .builtin).files()[2].text
        #expect(started.contains("server: stop") && started.contains("server: start"))
    }

    @Test func theShortOutageIsShorterThanTheTimeout() throws {
        let scenario = try Scenario.parse(Self.suite().files()[3].text, file: "short")
        let heal = scenario.timeline.compactMap { step -> Duration? in
            if case .action(.relative(let after)?, .removeFault) = step.kind { return after }
            return nil
        }
        #expect(heal == [.seconds(1)])  // timeout / 2
    }

    @Test func commandWords() throws {
        #expect(try CommandTemplate.words("node client.js {url}") == ["node", "client.js", "{url}"])
        #expect(try CommandTemplate.words(#"python3 "my client.py" --name 'a b' x\ y"#) == ["python3", "my client.py", "--name", "a b", "x y"])
        #expect(try CommandTemplate.words(#"a '' "" b"#) == ["a", "", "", "b"])
        #expect(throws: ConfigurationError("an unclosed double quote in 'node \"x'")) { try CommandTemplate.words(#"node "x"#) }
        #expect(throws: ConfigurationError("the command is empty")) { try CommandTemplate.words("   ") }
    }
}
