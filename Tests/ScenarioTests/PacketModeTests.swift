import FaultProxy
import FaultModel
@testable import Scenario
import ScenarioJudging
import ScenarioReporting
@testable import ScenarioModel
import Testing

@Suite("Packet mode: validation and rules")
struct PacketModeTests {
    @Test func anUnknownModeIsNamedWithASuggestion() {
        #expect(parseError("network: pakcet\n" + scenarioBase + "  - wait: 1s\n") == "scenarios/x.yaml:1:10: unknown network 'pakcet' (did you mean 'packet'?); use proxy (faults in the proxy) or packet (nftables rules in a private network namespace)")
        #expect(parseError(scenarioBase + "  - expect: client connected\n    within: 1s\n    network: packt\n").contains("8:14: unknown network 'packt' (did you mean 'packet'?)"))
        #expect(parseError(scenarioBase + "  - wait: 1s\n    network: packet\n").contains("'network' does not apply to a 'wait' step"))
    }

    /// What the kernel cannot do here is refused where it is written, in the file's own mode and
    /// when `--network packet` is given on the command line.
    @Test(arguments: [
        ("  - fault: {type: latency, latency: 300ms}\n", "6:5: network: packet: fault 'latency' has no packet-level form: this kernel has no netem"),
        ("  - fault: {type: timeout, timeout: 0}\n", "fault 'timeout' has no packet-level form: Toxiproxy's timeout discards bytes"),
        ("  - fault: {type: drop-frames, opcodes: [pong]}\n", "fault 'drop_frames' has no packet-level form"),
        ("  - fault: {type: blackhole, target: existing}\n", "packet mode applies a fault to every connection; 'target: existing' needs network: proxy"),
        ("  - fault: {type: blackhole, toxicity: 0.5}\n", "'toxicity: 0.5' needs network: proxy"),
    ])
    func whatTheKernelCannotDoIsRejected(step: String, fragment: String) {
        #expect(parseError(scenarioBase + step) == "no error", "valid in proxy mode")
        let fromFile = parseError("network: packet\n" + scenarioBase + step)
        #expect(fromFile.contains(fragment.replacingOccurrences(of: "6:5:", with: "7:5:")), "\(fromFile)")
        let fromCommandLine = parseError(scenarioBase + step, in: .packet)
        #expect(fromCommandLine.hasPrefix("scenarios/x.yaml:6:5: network: packet: "), "\(fromCommandLine)")
        #expect(fromCommandLine.contains(fragment.replacingOccurrences(of: "6:5: network: packet: ", with: "")), "\(fromCommandLine)")
    }

    /// Random packet loss is the one fault only packet mode has: a userland proxy never sees packets.
    @Test func lossNeedsPacketMode() {
        let step = "  - fault: {type: loss, percent: 5}\n"
        #expect(parseError(scenarioBase + step) == "scenarios/x.yaml:6:5: fault 'loss' drops packets, which a userland proxy never sees: it needs network: packet")
        #expect(parseError("network: packet\n" + scenarioBase + step) == "no error")
        #expect(parseError(scenarioBase + "  - fault: {type: loss, percent: 101}\n").contains("loss percent must be at most 100"))
    }

    @Test func anUpstreamServerCannotBeReachedFromTheNamespace() {
        let text = scenarioBase.replacingOccurrences(of: "timeline:", with: "server: {upstream: \"127.0.0.1:8080\"}\ntimeline:") + "  - wait: 1s\n"
        #expect(parseError(text) == "no error")
        #expect(parseError(text, in: .packet).contains("scenarios/x.yaml:5:9: network: packet runs the scenario in a private network namespace, which cannot reach the upstream 127.0.0.1:8080"))
    }

    /// Checks written for one mode apply in that mode only, whichever mode the file was read in.
    @Test func modeOnlyChecksFollowTheMode() throws {
        let text = scenarioBase + "  - expect: client connected\n    within: 300ms\n    network: proxy\n  - expect: client connected\n    within: 1300ms\n    network: packet\n"
        let proxy = try Scenario.parse(text, file: "x.yaml")
        #expect(proxy.network == .proxy)
        #expect(proxy.timeline.map(\.index) == [1])
        let packet = try proxy.in(.packet)
        #expect(packet.timeline.map(\.index) == [2])
        #expect(packet.timeline[0].description == "expect client connected within 1.3s [packet mode only]")
        #expect(try packet.in(.proxy).timeline.map(\.index) == [1])
    }

    @Test func everyDifferentialScenarioIsValidInBothModes() throws {
        let files = try ScenarioFiles.resolve(["scenarios/differential"], recursive: false)
        #expect(files.count >= 12)
        for file in files {
            let scenario = try Scenario.load(path: file)
            _ = try scenario.in(.proxy)
            _ = try scenario.in(.packet)
        }
    }

    @Test func faultsBecomeDropRulesOnBothLegsInTheirDirection() {
        let legs = PacketLegs(proxyPorts: [4000], serverPort: 5000)
        #expect(PacketRules.rules(for: Fault(.blackhole, direction: .upstream), legs: legs) == ["tcp dport 4000 drop", "tcp dport 5000 drop"])
        #expect(PacketRules.rules(for: Fault(.blackhole, direction: .downstream), legs: legs) == ["tcp sport 5000 drop", "tcp sport 4000 drop"])
        #expect(PacketRules.rules(for: Fault(.hold(capBytes: 10), direction: .both), legs: legs).count == 4)
        #expect(PacketRules.rules(for: Fault(.powerLoss), legs: legs) == ["tcp dport 4000 drop", "tcp dport 5000 drop", "tcp sport 5000 drop", "tcp sport 4000 drop"])
        #expect(PacketRules.rules(for: Fault(.refuse), legs: legs) == ["tcp dport 4000 tcp flags & (syn | ack) == syn reject with tcp reset"])
        #expect(PacketRules.afterPowerLoss(legs: legs, epoch: 2) == ["tcp dport 5000 ct mark < 2 reject with tcp reset", "tcp sport 5000 ct mark < 2 drop"])
        let two = PacketLegs(proxyPorts: [4000, 4001], serverPort: 5000)
        #expect(PacketRules.rules(for: Fault(.blackhole, direction: .upstream), legs: two) == ["tcp dport { 4000, 4001 } drop", "tcp dport 5000 drop"])
        #expect(PacketRules.rules(for: Fault(.loss(percent: 10), direction: .upstream), legs: legs) == ["tcp dport 4000 numgen random mod 100 < 10 drop", "tcp dport 5000 numgen random mod 100 < 10 drop"])
        #expect(PacketForm.of(Fault(.reset(after: .zero))) == .success(.proxy))
        #expect(PacketForm.of(Fault(.close)) == .success(.proxy))
    }
}
