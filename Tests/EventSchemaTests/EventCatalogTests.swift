import EventSchema
import Foundation
import Testing

@Suite struct EventCatalogTests {
    @Test func everyTypeIsDeclaredOnceWithAMeaning() {
        var seen = Set<String>()
        for entry in EventCatalog.entries {
            let key = "\(entry.source.rawValue) \(entry.type)"
            #expect(seen.insert(key).inserted, "\(key) declared twice")
            #expect(!entry.meaning.isEmpty, "\(key) has no meaning")
            #expect(Set(entry.fields).count == entry.fields.count, "\(key) lists a field twice")
        }
        for source in EventSource.allCases {
            #expect(!EventCatalog.types(of: source).isEmpty, "no \(source) events")
        }
    }

    /// docs/events.md shows each source's table exactly as the catalog declares it.
    @Test func theDocumentationIsTheCatalog() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/events.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for source in EventSource.allCases {
            let table = EventCatalog.markdownTable(source)
            #expect(text.contains(table), "docs/events.md lacks the \(source) table as declared; it should read:\n\(table)")
        }
    }

    @Test func problemsAreNamed() throws {
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, ClientEventType.connected, fields: ["conn": 1, "attempt": 0])) == nil)
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, ClientEventType.connected, fields: ["client": 2])) == nil)
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, type: EventType(source: .client, name: "conected"))) == "undeclared client event 'conected'")
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, ProxyEventType.faultOn, fields: ["reasn": "x"])) == "proxy fault-on has undeclared field 'reasn'")
        #expect(throws: ConfigurationError.self) { try EventRecord(jsonLine: #"{"t": 1, "src": "cable", "type": "x"}"#) }
    }

    /// Names are read once, where lines are decoded: every declared name comes back as its case,
    /// an undeclared one is kept as written, and a line reads back as the record that wrote it.
    @Test func namesDecodeToTheirTypes() throws {
        for entry in EventCatalog.entries {
            let type = EventType(source: entry.source, name: entry.type)
            if case .undeclared = type { Issue.record("\(entry.source) \(entry.type) decoded as undeclared") }
            #expect(type.name == entry.type && type.source == entry.source)
            let record = EventRecord(t: .milliseconds(12), type: type, fields: ["conn": 3])
            #expect(try EventRecord(jsonLine: record.jsonLine) == record)
        }
        let printed = try #require(EventRecord(printedBy: .client, line: #"{"t": 5, "type": "hello", "n": 1}"#, at: .milliseconds(7)))
        #expect(printed.type == .undeclared(.client, "hello") && printed.fields == ["n": 1, "client_t": 5])
        #expect(EventRecord(printedBy: .server, line: #"{"src": "app", "type": "listening"}"#, at: .zero, requireSource: true) == nil)
        #expect(EventRecord(printedBy: .server, line: "plain text", at: .zero) == nil)
    }
}
