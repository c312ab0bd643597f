public import ScenarioModel
public import EventSchema

/// The one rule for "which instant is a check measured from", used by the live walker (to know
/// how long to wait) and by the judge (to measure): a check is measured from the recorded time of
/// the latest action, `wait` or `after` step before it; before any such step, from the run's start.
/// A step's recorded time is its `runner step` event: when an action began, when a wait ended,
/// when the awaited event happened.
public enum TimelineRule {
    /// The step whose recorded time `step` is measured from (nil: the run's start).
    public static func referenceStep(of step: Step, in timeline: [Step]) -> Step? {
        timeline.last { $0.index < step.index && !$0.isCheck }
    }

    /// The instant `step` is measured from, given the recorded step times; nil when the step it
    /// depends on never ran.
    public static func reference(of step: Step, in timeline: [Step], stepTimes: [Int: Duration]) -> Duration? {
        guard let previous = referenceStep(of: step, in: timeline) else { return .zero }
        return stepTimes[previous.index]
    }

    /// The recorded times of the steps that ran (a failed `after` has none).
    public static func stepTimes(_ events: [EventRecord]) -> [Int: Duration] {
        var times: [Int: Duration] = [:]
        var failed: Set<Int> = []
        for event in events where event.type == .runner(.step) {
            guard let index = event.fields["index"]?.intValue else { continue }
            if event.fields["ok"] == false { failed.insert(Int(index)) } else if times[Int(index)] == nil { times[Int(index)] = event.t }
        }
        // A step recorded as begun and then as failed did not happen.
        for index in failed { times[index] = nil }
        return times
    }
}
