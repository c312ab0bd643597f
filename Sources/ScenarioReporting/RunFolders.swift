public import EventSchema
import Foundation
import Synchronization

/// The one owner of where a run's evidence lives:
///
///     <runs>/index.html                        the invocation's page (--report)
///     <runs>/shard-I-of-N.json                 a shard's manifest (--shard)
///     <runs>/<scenario>/<timestamp>/recording.jsonl
///                                  …/capture.pcap   (--capture)
///                                  …/report.html    (--report, flatline report)
///
/// Run folders are named by time (UTC, then the process and a sequence number), so the last in
/// order is the newest.
public struct RunFolders: Sendable {
    public var root: String

    public init(root: String) { self.root = root }

    public static let recordingName = "recording.jsonl"
    public static let captureName = "capture.pcap"
    public static let reportName = "report.html"

    public static func recording(in folder: String) -> String { "\(folder)/\(recordingName)" }
    public static func capture(in folder: String) -> String { "\(folder)/\(captureName)" }
    public static func report(in folder: String) -> String { "\(folder)/\(reportName)" }
    /// The run folder a recording is in ("." for a bare file name).
    public static func folder(ofRecording path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    public var index: String { "\(root)/index.html" }

    public func manifest(index: Int, count: Int) -> String { "\(root)/shard-\(index)-of-\(count).json" }

    /// The shard manifests in this runs folder, by name.
    public func manifests() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".json") }.sorted().map { "\(root)/\($0)" }
    }

    /// A scenario's name as a folder name.
    public static func safeName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    /// A new run folder for scenario `name`, created.
    public func newRun(of name: String) -> String {
        let folder = "\(root)/\(Self.safeName(name))/\(Self.timestamp())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The newest recording of scenario `name`, or nil.
    public func newestRecording(of name: String) -> String? {
        let folder = "\(root)/\(Self.safeName(name))"
        let runs = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return runs.reversed().map { Self.recording(in: "\(folder)/\($0)") }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The scenarios with a folder here (for an error that names what is there).
    public func scenarioNames() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() }

    /// Run folders in `path`: itself when it holds a recording, else the newest run of each
    /// scenario of a runs folder.
    public static func runs(in path: String) throws(ConfigurationError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError("\(path): no such folder")
        }
        if FileManager.default.fileExists(atPath: recording(in: path)) { return [path] }
        let found = RunFolders(root: path).scenarioNames().compactMap { name in
            RunFolders(root: path).newestRecording(of: name).map(folder(ofRecording:))
        }
        guard !found.isEmpty else { throw ConfigurationError("\(path): no \(recordingName) here or in its scenario folders (not a run folder or a runs folder)") }
        return found
    }

    /// Why recordings cannot be written under the root, or nil (the folder is created).
    public func unwritable() -> String? {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            return (error as NSError).localizedDescription
        }
        let probe = "\(root)/.flatline-write-test-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else { return "permission denied" }
        try? FileManager.default.removeItem(atPath: probe)
        return nil
    }

    private static let sequence = Mutex(0)

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss-SSS"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let n = sequence.withLock {
            $0 += 1
            return $0
        }
        return "\(formatter.string(from: Date()))-\(ProcessInfo.processInfo.processIdentifier)-\(n)"
    }
}
