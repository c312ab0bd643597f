import ArgumentParser
import EventSchema

/// `flatline events`: the event schema, from the catalog every component emits through.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the event schema: every source's event types and their fields (Markdown tables)."
    )

    @Option(help: "Only this source: \(EventSource.allCases.map(\.rawValue).joined(separator: ", ")).")
    var source: String?

    func run() throws {
        var sources = EventSource.allCases
        if let source {
            guard let chosen = EventSource(rawValue: source) else {
                throw ValidationError("unknown source '\(source)'\(String.suggestion(for: source, in: EventSource.allCases.map(\.rawValue)))")
            }
            sources = [chosen]
        }
        for (index, source) in sources.enumerated() {
            if index > 0 { print("") }
            print("## `\(source.rawValue)` events")
            if !source.commonFields.isEmpty {
                print("\nAny of them may also carry \(source.commonFields.map { "`\($0)`" }.joined(separator: ", ")).")
            }
            print("")
            print(EventCatalog.markdownTable(source))
        }
    }
}
