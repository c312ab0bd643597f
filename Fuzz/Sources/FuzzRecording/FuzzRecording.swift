import ScenarioJudging

/// A recording (JSON lines, as `flatline replay` and `report` read a run folder): read, strictly and
/// tolerantly, or refused with a message — never a crash. The tolerant reader accepts whatever the
/// strict one does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecording(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let strict = try? Recording.read(text: text, path: "fuzz.jsonl")
    let tolerant = try? Recording.read(text: text, path: "fuzz.jsonl", tolerant: true)
    if let strict {
        guard let tolerant, tolerant.events.count == strict.events.count else {
            fatalError("the strict reader read \(strict.events.count) events, the tolerant one \(tolerant.map { "\($0.events.count)" } ?? "refused")")
        }
    }
    return 0
}
