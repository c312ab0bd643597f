import EventSchema
import FaultProxy
import FaultModel
import Foundation
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel
import Testing

/// Every fault kind goes through the scenario decoder and the Toxiproxy decoder alike.
@Suite("Fault catalog")
struct FaultCatalogTests {
    /// A sample value per unit: as a scenario would write it, and as a Toxiproxy client would.
    static func sample(_ attribute: FaultAttribute) -> (yaml: String, json: JSONValue) {
        switch attribute.unit {
        case .milliseconds: ("250ms", 250)
        case .microseconds: ("250us", 250)
        case .bytes: attribute.name == "size_variation" ? ("10", 10) : ("100", 100)
        case .kilobytesPerSecond: ("100", 100)
        case .percent: ("10", 10)
        case .opcodes: ("[pong]", .array(["pong"]))
        case .text where !attribute.choices.isEmpty:
            // The last choice: not the default, so a decoder that ignored it would be caught.
            (attribute.choices[attribute.choices.count - 1], .string(attribute.choices[attribute.choices.count - 1]))
        case .text: ("heart_beat", "heart_beat")
        }
    }

    static func scenario(fault: String) -> String {
        // Packet loss exists only in packet mode.
        """
        name: catalog
        timeline:
          - fault: \(fault)
          - wait: 10ms
        network: \(fault.contains("type: loss") ? "packet" : "proxy")
        """
    }

    static func yamlFault(_ text: String) throws -> Fault {
        let scenario = try Scenario.parse(scenario(fault: text), file: "catalog.yaml")
        guard case .action(_, .addFault(let fault)) = scenario.timeline[0].kind else { throw ConfigurationError("no fault") }
        return fault
    }

    @Test(arguments: FaultCatalog.specs.map(\.type))
    func bothDecodersAgree(type: String) throws {
        let spec = try FaultCatalog.spec(named: type)
        var yaml = ["type: \(type.replacingOccurrences(of: "_", with: "-"))", "direction: Upstream", "name: f"]
        var attributes = JSONObject()
        for attribute in spec.attributes {
            let (yamlValue, jsonValue) = Self.sample(attribute)
            yaml.append("\(attribute.name.replacingOccurrences(of: "_", with: "-")): \(yamlValue)")
            attributes[attribute.name] = jsonValue
        }
        let fromYAML = try Self.yamlFault("{" + yaml.joined(separator: ", ") + "}")
        let toxic: JSONObject = ["type": .string(type), "name": "f", "stream": "UPSTREAM", "attributes": .object(attributes)]
        let fromJSON = try Fault(toxic: toxic)
        #expect(fromYAML == fromJSON)
        // And back: the API's answer decodes to the same fault.
        #expect(try Fault(toxic: fromJSON.toxicJSON) == fromJSON)
        // Underscores in YAML and duration text in JSON are accepted too.
        var spelled = ["type: \(type)", "stream: upstream", "name: f"]
        var withUnits = JSONObject()
        for attribute in spec.attributes {
            let (yamlValue, jsonValue) = Self.sample(attribute)
            spelled.append("\(attribute.name): \(yamlValue)")
            withUnits[attribute.name] = [.milliseconds, .microseconds].contains(attribute.unit) ? .string(yamlValue) : jsonValue
        }
        #expect(try Self.yamlFault("{" + spelled.joined(separator: ", ") + "}") == fromJSON)
        #expect(try Fault(toxic: ["type": .string(type), "name": "f", "stream": "upstream", "attributes": .object(withUnits)]) == fromJSON)
    }

    @Test func bothDecodersRejectTheSameMistakes() throws {
        #expect(throws: (any Error).self) { try Self.yamlFault("{type: latency, target: 0}") }
        #expect(throws: (any Error).self) { try Fault(toxic: ["type": "latency", "target": 0]) }
        #expect(throws: (any Error).self) { try Self.yamlFault("{type: latency, direction: sideways}") }
        #expect(throws: (any Error).self) { try Fault(toxic: ["type": "latency", "stream": "sideways"]) }
        do {
            _ = try Fault(toxic: ["type": "slicer", "attributes": .object(["avrage_size": 10])])
            Issue.record("an unknown attribute must be rejected")
        } catch {
            #expect("\(error)".contains("did you mean 'average_size'"))
        }
        do {
            _ = try Self.yamlFault("{type: latency, latency: 2 fortnights}")
            Issue.record("a bad duration must be rejected")
        } catch {
            #expect("\(error)".hasPrefix("catalog.yaml:3:"), "\(error)")
        }
        do {
            _ = try Self.yamlFault("blackhol")
            Issue.record("an unknown fault must be rejected")
        } catch {
            #expect("\(error)".contains("unknown fault 'blackhol', did you mean 'blackhole'?"))
        }
    }

    @Test func aMissingIdleIsNamedAndAWrongChoiceSuggestsTheRightOne() throws {
        do {
            _ = try Self.yamlFault("{type: nat-expiry}")
            Issue.record("a nat-expiry without idle was accepted")
        } catch {
            #expect("\(error)".hasSuffix("nat_expiry needs idle (a duration such as 30s, or milliseconds)"), "\(error)")
        }
        #expect(throws: ConfigurationError("idle_close with must be fin or rst, got 'fn' (did you mean 'fin'?)")) {
            try Fault(toxic: ["type": "idle_close", "name": "lb", "attributes": .object(["idle": 1000, "with": "fn"])])
        }
        let fault = try Self.yamlFault("{type: nat-expiry, idle: 30s, then: Reset}")
        #expect(fault.kind == .natExpiry(idle: .seconds(30), then: .reset))
        #expect(try Self.yamlFault("{type: idle-close, idle: 60s}").kind == .idleClose(idle: .seconds(60), with: .fin), "fin is the default")
    }

    @Test func theDocumentationTableIsTheCatalog() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/proxy.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        #expect(text.contains(FaultCatalog.markdownTable), "docs/proxy.md should contain:\n\(FaultCatalog.markdownTable)")
    }

    @Test func everyFaultTypeHasExactlyOneEntryAndItsKindsComeBack() throws {
        #expect(FaultCatalog.specs.map(\.kindType).sorted { $0.rawValue < $1.rawValue } == FaultType.allCases.sorted { $0.rawValue < $1.rawValue })
        for spec in FaultCatalog.specs {
            // Built from defaults (and the required attributes), a kind is of its entry's type,
            // and written back under it.
            let required = spec.attributes.filter(\.required)
            for attribute in required {
                #expect(throws: ConfigurationError.self) { try spec.kind([]) }
                _ = attribute
            }
            let kind = try spec.kind(required.map { (key: $0.name, value: Self.sample($0).json) })
            #expect(kind.type == spec.kindType)
            #expect(FaultCatalog.spec(of: kind).type == spec.type)
        }
    }
}
