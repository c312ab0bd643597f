public import ScenarioModel

/// Scenarios run at once share the machine. One with more than 100 clients needs the cores and
/// the descriptors to itself (a herd of 1,000 saturates both cores for a moment, 4,000 clients take
/// 16,000 descriptors): it starts when nothing else runs, and nothing starts while it runs.
/// First come, first served: a waiting large scenario is not overtaken by later small ones.
public actor Admission {
    private var running = 0
    private var exclusive = false
    private var waiting: [(alone: Bool, resume: CheckedContinuation<Void, Never>)] = []

    /// More clients than this, and a scenario runs alone.
    public static let aloneAbove = 100

    public static func needsTheMachine(_ scenario: Scenario) -> Bool { scenario.client.count > aloneAbove }

    public init() {}

    public func enter(alone: Bool) async {
        if waiting.isEmpty, fits(alone) {
            take(alone)
            return
        }
        await withCheckedContinuation { waiting.append((alone, $0)) }
    }

    public func leave(alone: Bool) {
        running -= 1
        if alone { exclusive = false }
        while let first = waiting.first, fits(first.alone) {
            waiting.removeFirst()
            take(first.alone)
            first.resume.resume()
        }
    }

    private func fits(_ alone: Bool) -> Bool { !exclusive && (!alone || running == 0) }

    private func take(_ alone: Bool) {
        running += 1
        if alone { exclusive = true }
    }
}
