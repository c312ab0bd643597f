import ScenarioModel

/// Scenario text → a scenario or located errors: never a crash, every error `file:line:column:`
/// inside the text (or the file name alone, for a file refused whole).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzScenario(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
    if lines > 1, text.hasSuffix("\n") { lines -= 1 }
    for world in [false, true] {
        do {
            _ = try Scenario.parse(text, file: "fuzz.yaml", world: world)
        } catch {
            for problem in error.all {
                guard problem.location != "fuzz.yaml" else { continue }
                let parts = problem.location.split(separator: ":")
                guard parts.count == 3, parts[0] == "fuzz.yaml", let line = Int(parts[1]), let column = Int(parts[2]), column >= 1,
                    (1...max(1, lines)).contains(line)
                else { fatalError("an error without a location inside the text: '\(problem.location): \(problem.message)'") }
                guard !problem.message.isEmpty else { fatalError("an error without a message at \(problem.location)") }
            }
        }
    }
    return 0
}
