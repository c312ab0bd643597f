#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Keeps a long run's memory from creeping. A run keeps every event of a scenario until it is
/// judged, then frees them all at once; glibc keeps what was freed in the arena of the thread
/// that allocated it, one arena per thread up to 8 per core. The one-hour soak (12 scenarios of
/// 5 minutes) grew its RSS by each scenario's fragments — 229 → 598 MiB while the heap in use
/// stayed under 60 MiB (`malloc_stats()` in the running process).
///
/// Three measures, measured by `scripts/soak.sh` (docs/robustness.md):
/// - **Two arenas** (``configure()``, first thing in `main`): what one thread frees, the next
///   scenario's threads reuse. 12 minutes of 2-minute scenarios, peak RSS per scenario from minute 5:
///   +24.5% with glibc's default (16 arenas on 2 cores), +1.1% with one arena, +0.1% with two; the
///   4,000-client and herd scenarios take the same CPU time either way (23.2–24.9 s).
/// - **A fixed mmap threshold of 256 KiB** (also ``configure()``): glibc raises its threshold to the
///   size of each large block freed (up to 32 MiB), so after the first scenario freed its event
///   arrays the next scenario's arrays, growing by doubling, came from the arenas and left holes
///   there; with 5-minute scenarios RSS still crept by about 10 MiB per scenario with two arenas.
///   A fixed threshold keeps every large block in its own mapping, returned when freed.
/// - **`malloc_trim(0)` after each scenario** (``afterScenario()``): the free pages of every
///   arena go back to the system; it takes milliseconds, once per scenario. It returns only what is
///   free: the finished run's events must be gone by then (the runner closes its `EventLog`; a
///   check's pending deadline timer once kept them alive into the next scenario, and the heap in
///   use after a 5-minute scenario was 95 MB instead of 3).
public enum MemoryReturn {
    public static func configure() {
        _ = mallopt?(-8 /* M_ARENA_MAX */, 2)
        _ = mallopt?(-3 /* M_MMAP_THRESHOLD */, 256 * 1024)
    }

    static func afterScenario() {
        _ = trim?(0)
        if reportAfterScenario { report() }
    }

    /// `FLATLINE_MEMORY_STATS=1`: after each scenario's trim, on stderr, glibc's `malloc_stats()` (the
    /// heap each arena holds and has in use: what the runner keeps, against what the allocator
    /// keeps) and a line `flatline memory: peak_rss_kib=P rss_kib=R fds=F` — the scenario's exact peak
    /// (the kernel's high-water mark, reset after each scenario), the RSS after the trim, and the
    /// descriptors open once the scenario is torn down.
    /// `scripts/soak.sh` sets it and judges the soak by those peaks.
    private static let reportAfterScenario = getenv("FLATLINE_MEMORY_STATS").map { String(cString: $0) == "1" } ?? false

    private static func report() {
        stats?()
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func kib(_ key: String) -> String {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return "unknown" }
            return line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? "unknown"
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map(String.init) ?? "unknown"
        FileHandle.standardError.write(Data("flatline memory: peak_rss_kib=\(kib("VmHWM")) rss_kib=\(kib("VmRSS")) fds=\(descriptors)\n".utf8))
        // The next scenario's peak is its own: the high-water mark starts again from here.
        let clear = open("/proc/self/clear_refs", O_WRONLY)
        if clear >= 0 {
            _ = write(clear, "5", 1)
            close(clear)
        }
    }

    /// Whether this C library has `malloc_trim` and `mallopt` (glibc does).
    static var available: Bool { trim != nil && mallopt != nil }

    /// glibc's `malloc_trim` and `mallopt` (not in the Glibc module's headers), found once; nil elsewhere.
    private static let trim: (@convention(c) (Int) -> Int32)? = symbol("malloc_trim")
    private static let mallopt: (@convention(c) (Int32, Int32) -> Int32)? = symbol("mallopt")
    private static let stats: (@convention(c) () -> Void)? = symbol("malloc_stats")

    private static func symbol<F>(_ name: String) -> F? {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, name) else { return nil }  // nil: RTLD_DEFAULT on glibc
        return unsafeBitCast(symbol, to: F.self)
        #else
        return nil
        #endif
    }
}
