import Foundation
import Synchronization
import NIOConcurrencyHelpers
import WebSocketSupport
import NetworkSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A child process in its own process group, whose output lines are delivered as they come.
/// The group is ended by PID (SIGTERM, then SIGKILL) — never by name — on stop, on failure and
/// when Flatline itself is interrupted.
///
/// Its exit is observed once, by a thread blocked in `waitid(WNOWAIT)`: the exited child stays a
/// zombie until ``stop(grace:)`` reaps it, so its PID (and process group id) cannot be reused by
/// another process while Flatline may still signal it.
final class ChildProcess: Sendable {
    let pid: pid_t

    private struct Life {
        var exitCode: Int32?
        var reaped = false
        var onExit: [@Sendable () -> Void] = []
    }
    private let life = NIOLockedValueBox(Life())

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not
    /// export: looked up once at run time.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("posix_spawn_file_actions_addclosefrom_np is missing: glibc 2.34 or later is required")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Every live child group, so that a signal handler can end them all.
    static let live = NIOLockedValueBox<Set<pid_t>>([])

    /// `setpriv`, which sets the child's parent-death signal before it runs the command: if Flatline
    /// dies (SIGKILL, a crash), the kernel kills its children too. nil where it is missing.
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { access($0, X_OK) == 0 }

    /// The full path of `command` (as the shell would find it), or nil.
    static func resolve(_ command: String) -> String? {
        if command.contains("/") { return access(command, X_OK) == 0 ? command : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(command)" }.first { access($0, X_OK) == 0 }
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), looked up like closeFrom.
    private static let changeDirectory: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            fatalError("posix_spawn_file_actions_addchdir_np is missing: glibc 2.29 or later is required")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    /// `standardError`: its stderr goes into the same line stream as stdout (a browser's console log).
    /// `passing`: descriptors the child gets as 3, 4, … (a browser's DevTools pipe); all else of Flatline's is closed.
    init(
        arguments: [String], environment: [String: String], directory: String? = nil, standardError: Bool = false, passing: [Int32] = [],
        onLine: @escaping @Sendable (String) -> Void, onExit: @escaping @Sendable (Int32) -> Void
    ) throws {
        guard let first = arguments.first else { throw ChildError("an empty command") }
        if let directory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ChildError("cannot start '\(first)' in '\(directory)': no such folder")
            }
        }
        // A relative path names a program in the folder it runs in.
        let lookup = directory.map { first.contains("/") && !first.hasPrefix("/") ? "\($0)/\(first)" : first } ?? first
        guard let executable = Self.resolve(lookup) else {
            throw ChildError("cannot start '\(first)': no such program (not found on PATH)")
        }
        var command = [executable] + arguments.dropFirst()
        if let setpriv = Self.setpriv { command = [setpriv, "--pdeathsig", "KILL", "--"] + command }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw ChildError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let variables = env.map { "\($0.key)=\($0.value)" }
        let output = pipeFDs[1]
        // Spawned from one thread that lives as long as Flatline: the parent-death signal fires when
        // the *thread* that created the child ends, and pool threads come and go.
        let argv = command
        let (status, child) = SpawnThread.shared.run { Self.spawn(argv, environment: variables, stdout: output, stderr: standardError, passing: passing, directory: directory) }
        close(pipeFDs[1])
        guard status == 0 else {
            close(pipeFDs[0])
            throw ChildError("cannot start '\(arguments[0])': \(String(cString: strerror(status)))")
        }
        let spawned = child
        pid = spawned
        Self.live.withLockedValue { _ = $0.insert(spawned) }
        Self.readRecords(from: pipeFDs[0], endedBy: 10) { line in onLine(String(decoding: line, as: UTF8.self)) }
        let life = self.life
        let waiter = Thread {
            var info = siginfo_t()
            while waitid(P_PID, id_t(spawned), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            let status = info._sifields._sigchld.si_status
            let code = info.si_code == CLD_EXITED ? status : 128 + status
            Self.live.withLockedValue { _ = $0.remove(spawned) }
            let callbacks = life.withLockedValue { life in
                life.exitCode = code
                defer { life.onExit.removeAll() }
                return life.onExit
            }
            onExit(code)
            for callback in callbacks { callback() }
        }
        waiter.start()
    }

    var exitCode: Int32? { life.withLockedValue { $0.exitCode } }

    /// Reads `fd` to its end on a thread of its own, handing over each record ended by `delimiter`
    /// (a child's lines; a browser's DevTools messages, ended by NUL) and a last unended one, then
    /// closes it and calls `atEnd`.
    static func readRecords(from fd: Int32, endedBy delimiter: UInt8, atEnd: @escaping @Sendable () -> Void = {}, _ onRecord: @escaping @Sendable ([UInt8]) -> Void) {
        Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                while let end = pending.firstIndex(of: delimiter) {
                    onRecord(Array(pending[..<end]))
                    pending.removeSubrange(...end)
                }
            }
            if !pending.isEmpty { onRecord(pending) }
            close(fd)
            atEnd()
        }.start()
    }

    /// Runs a short command (`nft`, `unshare`) to its end, spawned as every child is (nothing of
    /// Flatline's open, its own group, default signals); returns its exit status and its output,
    /// stdout and stderr together.
    static func runToEnd(_ arguments: [String]) -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return (-1, "cannot create a pipe") }
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let (spawned, pid) = spawn(arguments, environment: environment, stdout: fds[1], stderr: true, directory: nil)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            return (-1, "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, 4096) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: output, as: UTF8.self))
    }

    /// posix_spawn with the child's setup: stdout to `stdout`, nothing else of Flatline's open, its
    /// own process group, default signal handling. Returns (status, pid).
    private static func spawn(_ command: [String], environment: [String], stdout: Int32, stderr: Bool, passing: [Int32] = [], directory: String?) -> (Int32, pid_t) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        if stderr { posix_spawn_file_actions_adddup2(&actions, stdout, 2) }
        // Passed descriptors are numbered from 3 (each source is above that range: see DevTools.init).
        for (offset, fd) in passing.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, 3 + Int32(offset)) }
        // Nothing else of Flatline's reaches the child: an inherited listener (the proxy's, the
        // server's) would keep accepting after Flatline closed it, so 'refuse' and 'server: stop'
        // would not refuse, and a restart could not bind its port.
        guard closeFrom(&actions, 3 + Int32(passing.count)) == 0 else { return (errno, 0) }
        if let directory { guard changeDirectory(&actions, directory) == 0 else { return (errno, 0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group; default signal handling and an empty signal mask, whatever the
        // spawning thread had (Flatline ignores SIGINT/SIGTERM itself to shut down cleanly).
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, argv[0]!, &actions, &attributes, argv, envp)
        return (status, child)
    }

    /// Signals the child's process group, unless it has been reaped (its PID could be another's).
    func signal(_ signal: Int32) {
        life.withLockedValue { life in
            if !life.reaped { kill(-pid, signal) }
        }
    }

    /// Waits until the child has exited or `limit` passed; returns whether it exited.
    func exited(within limit: Duration) async -> Bool {
        await finishesWithin(limit) { done in
            let already = life.withLockedValue { life -> Bool in
                if life.exitCode != nil { return true }
                life.onExit.append(done)
                return false
            }
            if already { done() }
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace` (to whatever of the group is left, grandchildren
    /// included), then reaps the child; returns when it is gone.
    func stop(grace: Duration = .seconds(2)) async {
        if grace > .zero, exitCode == nil {
            signal(SIGTERM)
            _ = await exited(within: grace)
        }
        signal(SIGKILL)
        // SIGKILL cannot be ignored: the leader exits promptly (the bound only guards against a
        // child stuck in the kernel).
        _ = await exited(within: .seconds(10))
        reap()
    }

    /// Collects the exited child's status; from now on it is never signalled again.
    private func reap() {
        life.withLockedValue { life in
            guard life.exitCode != nil, !life.reaped else { return }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            life.reaped = true
        }
    }

    /// Ends every live child group at once (signal handlers, fatal paths).
    static func killAll() {
        for pid in live.withLockedValue({ $0 }) { kill(-pid, SIGKILL) }
    }
}

struct ChildError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Ends every external client Flatline started (for signal handlers).
public enum ScenarioProcesses {
    public static func killAll() { ChildProcess.killAll() }
}

/// A thread that lives as long as the process and performs every spawn (see ChildProcess.init).
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    /// Counts the jobs waiting.
    private let pending = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                pending.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job()
            }
        }
        thread.name = "flatline.spawn"
        thread.start()
    }

    /// Runs `body` on the spawn thread and waits for its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        jobs.withLock {
            $0.append {
                let value = body()
                result.withLock { $0 = value }
                done.signal()
            }
        }
        pending.signal()
        done.wait()
        return result.withLock { $0! }
    }
}
