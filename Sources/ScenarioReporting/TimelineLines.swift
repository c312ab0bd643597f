public import EventSchema

/// Which events a timeline prints, and how: one rule for the live run and the replay.
public enum TimelineLines {
    /// Events shown when not verbose.
    public static let highlighted: Set<EventType> = [
        .client(.connected), .client(.disconnected), .client(.reconnectScheduled), .client(.gaveUp), .client(.closed),
        .client(.protocolError), .client(.exited), .server(.reaped), .server(.stopped), .server(.killed), .server(.frozen),
        .server(.resumed), .server(.muted), .proxy(.faultOn), .proxy(.faultOff), .proxy(.connClosed), .proxy(.closedByProxy),
        .proxy(.upstreamFailed), .wire(.fin), .wire(.rst),
    ]

    /// The line for `event`, or nil when it is not shown (runner events other than steps; the
    /// unimportant ones unless verbose).
    public static func line(for event: EventRecord, verbose: Bool) -> String? {
        if event.source == .runner { return event.type == .runner(.step) ? describeStep(event) : nil }
        guard verbose || highlighted.contains(event.type) else { return nil }
        return "    " + event.humanLine
    }

    public static func describeStep(_ event: EventRecord) -> String {
        let label = event.fields["label"]?.stringValue ?? ""
        let index = event.fields["index"]?.intValue ?? 0
        let failed = event.fields["ok"] == false
        let error = event.fields["error"]?.stringValue.map { ": \($0)" } ?? ""
        let seconds = Double(event.t.nanoseconds) / 1e9
        return String(format: seconds, decimals: 3).leftPadded(8) + "s ⏵ step \(index): \(label)" + (failed ? " — FAILED\(error)" : "")
    }
}
