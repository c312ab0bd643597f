import Dispatch
import EventSchema
import FaultProxy

/// The control API (Toxiproxy's dialect) as anyone who reaches its port may drive it: a request —
/// `METHOD PATH`, header lines, an empty line, a body (as NIO's HTTP decoder hands it over) — gets
/// an answer with a status and a JSON body, never a crash; whatever it creates is removed before the
/// next input (`POST /reset` and deleting every proxy), so memory stays bounded. scripts/fuzz.sh runs
/// this target in a network namespace of its own: the listeners it opens reach nothing.
let registry = ProxyRegistry(seed: 1)
let api = ControlAPI(registry: registry)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlAPI(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Head and body split at the first empty line; the first line is the request line.
    var headEnd = bytes.count, bodyStart = bytes.count
    for index in 0..<max(0, bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 {
        headEnd = index
        bodyStart = index + 2
        break
    }
    let head = String(decoding: bytes[0..<headEnd], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    let requestLine = head.first.map { $0.split(separator: " ", maxSplits: 1) } ?? []
    let method = requestLine.first.map(String.init) ?? "GET"
    let path = requestLine.count > 1 ? String(requestLine[1]) : "/"
    let headers = head.dropFirst().compactMap { line -> (String, String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingPrefix(" ").description)
    }
    let request = ControlAPI.Request(method: method, path: path, headers: headers, body: Array(bytes[bodyStart...]))
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var answer: ControlAPI.Response?
    Task {
        answer = await api.handle(request)
        // What this input created goes: the next input starts from an empty registry.
        _ = await api.handle(ControlAPI.Request(method: "POST", path: "/reset"))
        if case .object(let proxies)? = await api.handle(ControlAPI.Request(method: "GET", path: "/proxies")).body {
            for name in proxies.keys { try? await registry.delete(name: name) }
        }
        done.signal()
    }
    done.wait()
    guard let answer else { fatalError("no answer") }
    guard (200..<600).contains(answer.status) else { fatalError("status \(answer.status) for \(method) \(path)") }
    if answer.status >= 400 {
        guard case .object(let object)? = answer.body, case .string(let message)? = object["error"], !message.isEmpty else {
            fatalError("an error \(answer.status) without a message for \(method) \(path): \(String(describing: answer.body))")
        }
    }
    return 0
}
