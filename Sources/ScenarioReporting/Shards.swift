public import EventSchema
public import ScenarioJudging
import Foundation

/// Splitting a suite across CI machines (`flatline run --shard i/n`): every machine computes the
/// same split from the same file list — by name, balanced by durations when they are known (a
/// `durations.json` that `flatline report --merge` writes, committed or cached by the CI).
public enum ScenarioShards {
    public struct Shard: Sendable, Hashable {
        public var index: Int
        public var count: Int

        public init(parsing text: String) throws(ConfigurationError) {
            let parts = text.split(separator: "/")
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (1...count).contains(index) else {
                throw ConfigurationError("--shard must be INDEX/COUNT with 1 ≤ INDEX ≤ COUNT, e.g. 2/4; got '\(text)'")
            }
            self.index = index
            self.count = count
        }

        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }

        public var description: String { "\(index)/\(count)" }
    }

    /// The files of `shard`, in their original order. Longest first onto the least-loaded shard
    /// (ties by name, then by shard number); unknown durations count as the median of the known.
    public static func select(_ files: [String], shard: Shard, durations: [String: Double]) -> [String] {
        let known = durations.values.sorted()
        let typical = known.isEmpty ? 1 : known[known.count / 2]
        let weighted = files.map { ($0, durations[$0] ?? typical) }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
        var loads = Array(repeating: 0.0, count: shard.count)
        var mine: Set<String> = []
        for (file, weight) in weighted {
            let target = loads.indices.min { (loads[$0], $0) < (loads[$1], $1) }!
            loads[target] += weight
            if target == shard.index - 1 { mine.insert(file) }
        }
        return files.filter { mine.contains($0) }
    }

    /// Durations (seconds) by scenario file, from a `durations.json`; empty when absent.
    public static func durations(at path: String) throws(ConfigurationError) -> [String: Double] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(path): cannot read it")
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: text) } catch { throw ConfigurationError("\(path): \(error.message)") }
        guard let object = value.objectValue else { throw ConfigurationError("\(path): expected an object of scenario file → seconds") }
        var result: [String: Double] = [:]
        for (key, value) in object {
            guard let seconds = value.doubleValue, seconds >= 0 else { throw ConfigurationError("\(path): '\(key)' must be a number of seconds") }
            result[key] = seconds
        }
        return result
    }

    /// What a shard ran, written into its runs folder (`shard-I-of-N.json`) for `flatline report
    /// --merge` to check: the one place that writes and reads it.
    public struct Manifest: Sendable, Hashable {
        public var shard: Shard
        /// Every file of the suite, before the split (the same list in every shard of one split).
        public var all: [String]
        /// The files this shard ran.
        public var files: [String]
        /// Its run folders, relative to its runs folder.
        public var folders: [String]
        /// The runs folder it was read from.
        public var runsFolder = ""

        public init(shard: Shard, all: [String], files: [String], folders: [String]) {
            self.shard = shard
            self.all = all
            self.files = files
            self.folders = folders
        }

        public var text: String {
            let object: JSONObject = [
                "shard": .int(Int64(shard.index)), "of": .int(Int64(shard.count)),
                "all": .array(all.map { .string($0) }), "files": .array(files.map { .string($0) }),
                "folders": .array(folders.map { .string($0) }),
            ]
            return JSONValue.object(object).description + "\n"
        }

        public static func read(path: String, runsFolder: String) throws(ConfigurationError) -> Manifest {
            guard let data = FileManager.default.contents(atPath: path), let value = try? JSONValue(parsing: [UInt8](data)), let object = value.objectValue,
                let index = object["shard"]?.intValue, let count = object["of"]?.intValue, count >= 1, (1...count).contains(index)
            else {
                throw ConfigurationError("\(path): not a shard manifest")
            }
            let strings = { (key: String) in (object[key]?.arrayValue ?? []).compactMap(\.stringValue) }
            var manifest = Manifest(shard: Shard(index: Int(index), count: Int(count)), all: strings("all"), files: strings("files"), folders: strings("folders"))
            manifest.runsFolder = runsFolder
            return manifest
        }

        var name: String { "shard \(shard.description) (\(runsFolder))" }
    }

    /// Reads the manifests of the shards' runs folders and checks that they are one split, each
    /// shard once, none missing, no file run twice or never: the problems, or the manifests in order.
    public static func manifests(in runsFolders: [String]) -> (manifests: [Manifest], problems: [String]) {
        var manifests: [Manifest] = []
        var problems: [String] = []
        for folder in runsFolders {
            let paths = RunFolders(root: folder).manifests()
            if paths.isEmpty {
                problems.append("\(folder): no shard manifest (shard-I-of-N.json): give the runs folder of a 'flatline run --shard I/N'")
            }
            for path in paths {
                do { manifests.append(try Manifest.read(path: path, runsFolder: folder)) } catch { problems.append(error.message) }
            }
        }
        guard let first = manifests.first else { return ([], problems) }
        for manifest in manifests where manifest.shard.count != first.shard.count || manifest.all != first.all {
            problems.append("\(manifest.runsFolder): shard \(manifest.shard.description) is of another split than \(first.runsFolder)'s \(first.shard.description) (different shard count or scenario list)")
        }
        var byIndex: [Int: Manifest] = [:]
        for manifest in manifests {
            if let other = byIndex[manifest.shard.index] {
                problems.append("shard \(manifest.shard.description) given twice: \(other.runsFolder) and \(manifest.runsFolder)")
            } else {
                byIndex[manifest.shard.index] = manifest
            }
        }
        let missing = (1...first.shard.count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            problems.append("missing: shard " + missing.map { "\($0)/\(first.shard.count)" }.joined(separator: ", ") + " (no runs folder given for it)")
        }
        var ranIn: [String: Manifest] = [:]
        for manifest in byIndex.values.sorted(by: { $0.shard.index < $1.shard.index }) {
            for file in manifest.files {
                if let other = ranIn[file] {
                    problems.append("\(file) ran in \(other.name) and in \(manifest.name): the shards did not split the same way (give every shard the same --durations file)")
                }
                ranIn[file] = manifest
            }
        }
        if missing.isEmpty {
            let unrun = first.all.filter { ranIn[$0] == nil }
            if !unrun.isEmpty { problems.append("no shard ran: \(unrun.joined(separator: ", ")) (the shards did not split the same way)") }
        }
        return (manifests.sorted { $0.shard.index < $1.shard.index }, problems)
    }

    /// `durations.json`: seconds by scenario file, for balancing the next split.
    public static func durationsFile(_ results: [ScenarioResult]) -> String {
        var durations = JSONObject()
        for result in results.sorted(by: { $0.scenario.file < $1.scenario.file }) {
            durations[result.scenario.file] = .double((result.duration.milliseconds / 10).rounded() / 100)
        }
        return JSONValue.object(durations).description + "\n"
    }
}
