/// The console timeline a scenario's result keeps (JUnit's system-out, the report): its first
/// `head` lines and its last `tail`, with a line saying how many were left out between them.
/// A long run prints hundreds of thousands of lines — a one-hour soak kept them all, and the
/// runner grew by the size of every finished scenario's timeline; the whole run is in its
/// recording in any case.
struct KeptLines: Sendable {
    let head: Int
    let tail: Int
    private(set) var first: [String] = []
    private var ring: [String] = []
    private var next = 0
    private(set) var leftOut = 0

    init(head: Int = 1_000, tail: Int = 4_000) {
        self.head = head
        self.tail = tail
    }

    mutating func append(_ line: String) {
        if first.count < head {
            first.append(line)
        } else if ring.count < tail {
            ring.append(line)
        } else if tail == 0 {
            leftOut += 1
        } else {
            ring[next] = line
            next = (next + 1) % tail
            leftOut += 1
        }
    }

    /// The kept lines in order, with the gap named.
    var lines: [String] {
        let last = Array(ring[next...] + ring[..<next])
        guard leftOut > 0 else { return first + last }
        return first + ["… \(leftOut) lines left out here (the run's recording has every event: flatline replay)"] + last
    }
}
