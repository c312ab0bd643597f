import ArgumentParser
import EventSchema
import HeartbeatCore

import Scenario

/// How events are printed on standard output.
enum EventFormat: String, ExpressibleByArgument, CaseIterable {
    /// One JSON object per line, in the event schema.
    case jsonl
    /// One aligned human-readable line per event.
    case text
}

extension LineWriter {
    func write(_ record: EventRecord, format: EventFormat) {
        write(format == .jsonl ? record.jsonLine : record.humanLine)
    }
}

extension ConfigurationError {
    /// Turns a configuration problem into a command-line validation error (exit code 64, usage hint).
    var validationError: ValidationError { ValidationError(message) }
}
