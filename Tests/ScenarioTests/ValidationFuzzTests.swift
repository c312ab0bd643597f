import EventSchema
import Foundation
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel
import Testing

/// A bounded, seeded fuzz of validation: mutants of every bundled scenario must never crash or
/// hang the parser, and every error must say `file:line:column: what`.
@Suite("Validation fuzz")
struct ValidationFuzzTests {
    static let files = try! ScenarioFiles.resolve(["scenarios", "scenarios/negative", "scenarios/clients"], recursive: false)

    /// Replacements that once crashed or slipped through validation.
    static let hostile = [
        "1e19 + 1ms", "1s * 1e30 + 1s", "0ms * 1e400", "2000000h + 2000000h", "1s * 1e19", "1ms - 1s",
        "9223372036854775807", "-1", "1e400", "((((((((((((((((((((((((((((((((((((((((1ms))))))))))))))))))))))))))))))))))))))))",
        "*a", "&a [1]", "{", "[", "\"", "'", ":", "? x", "\u{1}", "\t", "blackhol", "heartbeat.intervl", "1e13",
    ]

    static func mutate(_ text: String, random: inout SplitMix64) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return text }
        let line = Int(random.next() % UInt64(lines.count))
        switch random.next() % 7 {
        case 0: lines.remove(at: line)
        case 1: lines.insert(lines[line], at: line)
        case 2:
            // Replace one word (a value, a key, a duration) with something hostile.
            var words = lines[line].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if !words.isEmpty {
                let word = Int(random.next() % UInt64(words.count))
                words[word] = hostile[Int(random.next() % UInt64(hostile.count))]
                lines[line] = words.joined(separator: " ")
            }
        case 3:
            let cut = Int(random.next() % UInt64(lines[line].count + 1))
            lines[line] = String(lines[line].prefix(cut))
        case 4: lines[line] = "  " + lines[line]
        case 5:
            let other = Int(random.next() % UInt64(lines.count))
            lines.swapAt(line, other)
        default:
            lines[line] += " " + hostile[Int(random.next() % UInt64(hostile.count))]
        }
        return lines.joined(separator: "\n")
    }

    @Test func mutantsNeverCrashHangOrLoseTheirLocation() throws {
        var random = SplitMix64(seed: 20261123)
        var errors = 0, valid = 0, slowest = Duration.zero
        let located = try Regex(#"^.+:\d+:\d+: \S"#)
        for round in 0..<480 {
            let file = Self.files[round % Self.files.count]
            var text = try String(contentsOfFile: file, encoding: .utf8)
            for _ in 0...(random.next() % 3) { text = Self.mutate(text, random: &random) }
            let started = ContinuousClock.now
            do {
                _ = try Scenario.parse(text, file: "mutant-\(round).yaml")
                valid += 1
            } catch {
                errors += 1
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
                for problem in error.all {
                    let line = "\(problem.location): \(problem.message)"
                    #expect(line.firstMatch(of: located) != nil, "an error without file:line:column: \(line)\n--- mutant of \(file):\n\(text)")
                    let number = Int(problem.location.split(separator: ":").dropLast().last ?? "") ?? 0
                    #expect((1...max(1, lines.count)).contains(number), "an error outside the file's \(lines.count) lines: \(line)")
                }
            }
            let took = ContinuousClock.now - started
            slowest = max(slowest, took)
            #expect(took < .seconds(2), "mutant \(round) of \(file) took \(took) to validate")
        }
        print("validation fuzz: 480 mutants, \(valid) valid, \(errors) rejected with a location, slowest \(slowest)")
        #expect(errors > 100, "the mutations should produce errors")
    }

    @Test func anAliasBombIsRefusedAtOnce() throws {
        var text = "name: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        text += "? *a9\n: 1\ntimeline: []\n"
        let started = ContinuousClock.now
        #expect(throws: ScenarioError.self) { try Scenario.parse(text, file: "bomb.yaml") }
        #expect(ContinuousClock.now - started < .seconds(1))
        let keyed = "name: k\na: &a [1]\n? *a\n: 1\ntimeline: []\n"
        do {
            _ = try Scenario.parse(keyed, file: "keyed.yaml")
            Issue.record("an alias as a mapping key must be refused")
        } catch {
            #expect(error.description.hasPrefix("keyed.yaml:3:3: an alias as a mapping key"), "\(error)")
        }
    }

    @Test func oneValidateReportsEveryProblemOfAFile() throws {
        let text = """
            name: multi
            client:
              heartbeat: {dialect: jsn, interval: 1s, timeout: 500ms}
            timeline:
              - fault: {type: blackhol}
              - expect: client conected
                within: 1s
              - expect: client connected
                within: 1ms - 1s
            assert:
              - count client connected <= 1e19
            """
        do {
            _ = try Scenario.parse(text, file: "multi.yaml")
            Issue.record("must fail")
        } catch {
            let lines = error.all.map { "\($0.location): \($0.message)" }
            #expect(lines.count == 5, "\(lines)")
            #expect(lines.map { $0.split(separator: ":").prefix(2).joined(separator: ":") } == ["multi.yaml:3", "multi.yaml:5", "multi.yaml:6", "multi.yaml:9", "multi.yaml:11"])
        }
    }

    @Test func anErrorAtTheEndOfTheFilePointsAtItsLastLine() throws {
        // The YAML reader marks the end of input one line past the last: the error says where the text ends.
        for (text, expected) in [
            ("name: x\nsummary: \"open\n", "eof.yaml:2:15"),
            ("name: x\ntimeline:\n  - fault: {type: blackhole\n", "eof.yaml:3:28"),
            ("name: x\ntimeline:\n  - fault: {type: blackhole", "eof.yaml:3:28"),
        ] {
            do {
                _ = try Scenario.parse(text, file: "eof.yaml")
                Issue.record("must fail: \(text)")
            } catch {
                #expect(error.location == expected, "\(error) for \(text.debugDescription)")
            }
        }
    }

    @Test func aFileOverOneMebibyteIsRefusedBeforeItIsRead() throws {
        let path = NSTemporaryDirectory() + "flatline-large-\(getpid()).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = "name: large\nsummary: \"" + String(repeating: "a", count: Scenario.maximumFileBytes) + "\"\ntimeline: []\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let size = text.utf8.count
        for way in ["load", "parse"] {
            do {
                _ = way == "load" ? try Scenario.load(path: path) : try Scenario.parse(text, file: path)
                Issue.record("a file of \(size) bytes must be refused (\(way))")
            } catch {
                #expect(error.location == path)
                #expect(error.message.contains("(\(size) bytes): scenario files are limited to 1 MiB (1048576 bytes)"), "\(error)")
            }
        }
        // At the limit it is read (and judged on its content).
        #expect(throws: ScenarioError.self) { try Scenario.parse(String(repeating: "#", count: Scenario.maximumFileBytes), file: "limit.yaml") }
        do { _ = try Scenario.parse(String(repeating: "#", count: Scenario.maximumFileBytes), file: "limit.yaml") } catch {
            #expect(!error.message.contains("limited to 1 MiB"), "\(error)")
        }
    }
}
