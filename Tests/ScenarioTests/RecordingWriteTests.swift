import EventSchema
import Foundation
import ScenarioJudging
import Testing

/// A recording is written line by line into place, and read back whole.
@Suite("Recording written to its file")
struct RecordingWriteTests {
    @Test func aWrittenRecordingReadsBackEventForEvent() throws {
        let events = (0..<5_000).map { index in
            EventRecord(t: .milliseconds(Int64(index)), ClientEventType.heartbeatSent, fields: ["client": .string("c\(index % 7)"), "seq": .int(Int64(index)), "note": "ü ✓ \"quoted\""])
        }
        let recording = Recording(scenarioFile: "x.yaml", scenarioText: "name: x\ntimeline:\n  - wait: 1s\n", configuration: ["name": "x"], events: events, verdicts: [])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flatline-recording-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/recording.jsonl"
        try recording.write(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == recording.lines.joined(separator: "\n") + "\n")
        let back = try Recording.read(path: path)
        #expect(back.complete)
        #expect(back.events == events)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["recording.jsonl"], "the temporary file is renamed into place")
    }

    @Test func aFolderThatIsNotThereIsNamedInTheError() {
        let recording = Recording(scenarioFile: "x.yaml", scenarioText: "", configuration: [:], events: [], verdicts: [])
        #expect {
            try recording.write(to: "/nonexistent-flatline-folder/recording.jsonl")
        } throws: { error in
            "\(error)".contains("/nonexistent-flatline-folder/recording.jsonl: cannot write the recording (No such file or directory)")
        }
    }
}
