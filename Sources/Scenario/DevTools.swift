import EventSchema
import Foundation
import NIOConcurrencyHelpers

/// The Chrome DevTools Protocol to one browser client, over `--remote-debugging-pipe` (the browser
/// reads commands on its descriptor 3 and writes answers on 4, each message JSON ended by a NUL):
/// no port for anyone else on the machine to reach. Used for what only the browser can do —
/// `client: offline` / `client: online` (`Network.emulateNetworkConditions`: the page's `offline`
/// and `online` events, new connections failing in the browser). Sleep is not done here: a page
/// frozen with `Page.setWebLifecycleState` still answers WebSocket pings from the browser's network
/// service and has its socket closed by the browser on resume, unlike a sleeping laptop
/// (scripts/browser-sleep-probe.py measures it, docs/fidelity.md has the figures); `client: freeze`
/// stops the whole browser instead.
final class DevTools: Sendable {
    /// The browser's ends of the two pipes, for ``ChildProcess``'s `passing` (they become 3 and 4).
    let browserEnds: [Int32]
    private let commands: Int32
    private let state = NIOLockedValueBox(State())

    private struct State {
        var nextID = 1
        var waiting: [Int: CheckedContinuation<JSONObject, any Error>] = [:]
        var closed: String? = nil
        var pageSession: String? = nil
        var commandsOpen = true
    }

    /// Two pipes; the browser's ends are numbered above the range
    /// ChildProcess maps them into, so that mapping one never overwrites the other.
    init() throws {
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0 else { throw ChildError("cannot create the DevTools pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&fromBrowser) == 0 else {
            close(toBrowser[0]); close(toBrowser[1])
            throw ChildError("cannot create the DevTools pipe: \(String(cString: strerror(errno)))")
        }
        func high(_ fd: Int32) -> Int32 {
            let moved = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            close(fd)
            return moved
        }
        browserEnds = [high(toBrowser[0]), high(fromBrowser[1])]
        // (Every child Flatline spawns closes what it was not given; close-on-exec is for the rest.)
        _ = fcntl(toBrowser[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fromBrowser[0], F_SETFD, FD_CLOEXEC)
        commands = toBrowser[1]
        let answers = fromBrowser[0]
        let state = self.state
        ChildProcess.readRecords(from: answers, endedBy: 0, atEnd: { Self.fail(state, "the browser closed its DevTools pipe (it has exited)") }) { message in
            Self.answer(message, state: state)
        }
    }

    /// Once the browser has started: its own ends are the child's now.
    func browserStarted() {
        for fd in browserEnds { close(fd) }
    }

    /// Sends `method` to the page's session and waits for its answer, for at most `limit`.
    func call(_ method: String, _ params: JSONObject = [:], limit: Duration = .seconds(5)) async throws -> JSONObject {
        try await send(method, params, session: try await pageSession(limit: limit), limit: limit)
    }

    /// The session of the page the browser opened (attached once; `flatten`: commands carry its id).
    private func pageSession(limit: Duration) async throws -> String {
        if let session = state.withLockedValue({ $0.pageSession }) { return session }
        let deadline = ContinuousClock.now + limit
        while true {
            let targets = try await send("Target.getTargets", [:], session: nil, limit: limit)
            if let page = targets["targetInfos"]?.arrayValue?.compactMap(\.objectValue).first(where: { $0["type"]?.stringValue == "page" }),
                let id = page["targetId"]?.stringValue
            {
                let attached = try await send("Target.attachToTarget", ["targetId": .string(id), "flatten": true], session: nil, limit: limit)
                guard let session = attached["sessionId"]?.stringValue else { throw ChildError("Chromium attached to the page without a session id") }
                _ = try await send("Network.enable", [:], session: session, limit: limit)
                state.withLockedValue { $0.pageSession = session }
                return session
            }
            guard ContinuousClock.now < deadline else { throw ChildError("Chromium has no page open after \(limit)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func send(_ method: String, _ params: JSONObject, session: String?, limit: Duration) async throws -> JSONObject {
        let id = state.withLockedValue { state in defer { state.nextID += 1 }; return state.nextID }
        var message: JSONObject = ["id": .int(Int64(id)), "method": .string(method), "params": .object(params)]
        if let session { message["sessionId"] = .string(session) }
        let bytes = Array(message.description.utf8) + [0]
        let commands = self.commands
        let timeout = Task { [state] in
            try await Task.sleep(for: limit)
            Self.resume(state, id, .failure(ChildError("Chromium did not answer \(method) within \(limit)")))
        }
        defer { timeout.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let refused: String? = state.withLockedValue { state in
                if let closed = state.closed { return closed }
                state.waiting[id] = continuation
                return nil
            }
            if let refused { return continuation.resume(throwing: ChildError(refused)) }
            let written = bytes.withUnsafeBytes { buffer -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let n = write(commands, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    offset += n
                }
                return true
            }
            if !written { Self.resume(state, id, .failure(ChildError("cannot write to the browser's DevTools pipe: \(String(cString: strerror(errno)))"))) }
        }
    }

    /// One message from the browser: an answer to a command (events are not used).
    private static func answer(_ bytes: [UInt8], state: NIOLockedValueBox<State>) {
        guard let message = (try? JSONValue(parsing: bytes))?.objectValue, let id = message["id"]?.intValue else { return }
        if let error = message["error"]?.objectValue {
            resume(state, Int(id), .failure(ChildError("Chromium refused: \(error["message"]?.stringValue ?? error.description)")))
        } else {
            resume(state, Int(id), .success(message["result"]?.objectValue ?? [:]))
        }
    }

    private static func resume(_ state: NIOLockedValueBox<State>, _ id: Int, _ result: Result<JSONObject, any Error>) {
        state.withLockedValue { $0.waiting.removeValue(forKey: id) }?.resume(with: result)
    }

    private static func fail(_ state: NIOLockedValueBox<State>, _ reason: String) {
        let waiting = state.withLockedValue { state in
            state.closed = reason
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(throwing: ChildError(reason)) }
    }

    /// At teardown: no more commands (the browser sees EOF; its answers' reader ends when it exits).
    func shutDown() {
        let open = state.withLockedValue { state in
            defer { state.commandsOpen = false; state.closed = state.closed ?? "the run is over" }
            return state.commandsOpen
        }
        if open { close(commands) }
    }
}
