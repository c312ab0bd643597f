import Foundation
@testable import ScenarioModel
import Testing

/// value → YAML → value: every bundled scenario survives the encoder unchanged.
@Suite("Scenario YAML encoder")
struct ScenarioEncoderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    /// Every scenario file in the repository (scenarios/ and its folders, scripts/bench).
    static let files: [String] = {
        var found: [String] = []
        for folder in ["scenarios", "scripts/bench"] {
            guard let walker = FileManager.default.enumerator(atPath: "\(root)/\(folder)") else { continue }
            for case let entry as String in walker where entry.hasSuffix(".yaml") { found.append("\(folder)/\(entry)") }
        }
        return found.sorted()
    }()

    /// A value's structure, without where it was written (locations, file name, original text).
    static func shape(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.children.isEmpty { return "\(value)" }
        var parts: [String] = []
        for child in mirror.children {
            if let label = child.label, ["location", "file", "text", "serverLocation"].contains(label) { continue }
            parts.append("\(child.label ?? "_")=\(shape(child.value))")
        }
        // Dictionaries and sets list their elements in no fixed order.
        if mirror.displayStyle == .dictionary || mirror.displayStyle == .set { parts.sort() }
        return "\(mirror.subjectType)(" + parts.joined(separator: ", ") + ")"
    }

    @Test func thereAreBundledScenariosToCheck() {
        #expect(Self.files.count >= 70, "\(Self.files.count) files under \(Self.root)")
    }

    @Test(arguments: files)
    func everyBundledScenarioSurvivesTheEncoder(file: String) throws {
        // Relative paths in the files (browser pages) are read from the repository's root.
        // Worlds for exploration (scenarios/explore/) may have no timeline.
        let original = try Scenario.load(path: "\(Self.root)/\(file)", world: true)
        let yaml = original.yaml
        let again: Scenario
        do {
            again = try Scenario.parse(yaml, file: file, world: true)
        } catch {
            Issue.record("\(file): the encoded scenario does not parse: \(error)\n\(yaml)")
            return
        }
        #expect(Self.shape(again) == Self.shape(original), "\(file) changed through YAML:\n\(yaml)")
        #expect(again.yaml == yaml, "\(file): encoding is not stable")
    }

    @Test func theShapeSeesAChangedValue() throws {
        // The comparison above can fail: a changed bound, fault or setting shows.
        let text = """
            name: probe
            client:
              heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
            timeline:
              - fault: {type: latency, latency: 70ms}
              - expect: client disconnected
                within: heartbeat.interval + 50ms
            """
        let base = Self.shape(try Scenario.parse(text, file: "p.yaml"))
        for (from, to) in [("50ms", "51ms"), ("latency: 70ms", "latency: 71ms"), ("interval: 300ms", "interval: 301ms"), ("disconnected", "connected")] {
            let changed = Self.shape(try Scenario.parse(text.replacingOccurrences(of: from, with: to), file: "p.yaml"))
            #expect(changed != base, "\(from) → \(to)")
        }
    }

    @Test func expressionsKeepTheirTree() throws {
        let text = """
            name: trees
            client:
              heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}
              reconnect: {delay: 200ms}
            timeline:
              - wait: heartbeat.interval - (heartbeat.timeout + 10ms)
              - wait: (heartbeat.interval + 1ms) * 2
              - wait: reconnect.delay * 150% + 1500us
            """
        let original = try Scenario.parse(text, file: "t.yaml")
        let again = try Scenario.parse(original.yaml, file: "t.yaml")
        #expect(Self.shape(again) == Self.shape(original), "\(original.yaml)")
    }
}
