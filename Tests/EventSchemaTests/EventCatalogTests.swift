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

    @Test func problemsAreNamed() {
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, source: "client", type: "connected", fields: ["conn": 1, "attempt": 0])) == nil)
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, source: "client", type: "connected", fields: ["client": 2])) == nil)
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, source: "client", type: "conected")) == "undeclared client event 'conected'")
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, source: "proxy", type: "fault-on", fields: ["reasn": "x"])) == "proxy fault-on has undeclared field 'reasn'")
        #expect(EventCatalog.problem(with: EventRecord(t: .zero, source: "cable", type: "x")) == "unknown source 'cable'")
    }
}
