@testable import Scenario
import Testing

/// A result keeps its timeline's head and tail, never every line of a long run.
@Suite("Kept timeline lines")
struct KeptLinesTests {
    @Test func aShortTimelineIsKeptWhole() {
        var kept = KeptLines(head: 3, tail: 4)
        for index in 1...7 { kept.append("\(index)") }
        #expect(kept.lines == ["1", "2", "3", "4", "5", "6", "7"])
        #expect(kept.leftOut == 0)
    }

    @Test func aLongOneKeepsItsHeadAndTailAndSaysHowManyWentBetween() {
        var kept = KeptLines(head: 3, tail: 4)
        for index in 1...100_000 { kept.append("\(index)") }
        #expect(kept.lines.count == 3 + 1 + 4)
        #expect(Array(kept.lines.prefix(3)) == ["1", "2", "3"])
        #expect(Array(kept.lines.suffix(4)) == ["99997", "99998", "99999", "100000"])
        #expect(kept.lines[3].hasPrefix("… 99993 lines left out"))
    }

    @Test func keepingNoneHoldsNoLineAndCountsThem() {
        var kept = KeptLines(head: 0, tail: 0)
        for index in 1...1_000 { kept.append("\(index)") }
        #expect(kept.first.isEmpty)
        #expect(kept.leftOut == 1_000)
        #expect(kept.lines == ["… 1000 lines left out here (the run's recording has every event: flatline replay)"])
    }
}

@Suite("Memory returned after a scenario")
struct MemoryReturnTests {
    #if canImport(Glibc)
    @Test func glibcsTrimIsFound() {
        #expect(MemoryReturn.available, "malloc_trim or mallopt was not found: a long suite keeps every finished scenario's freed pages")
        MemoryReturn.afterScenario()
    }
    #endif
}
