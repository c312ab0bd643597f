public import ScenarioModel
import FaultProxy
import FaultModel
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport
import WireCapture

/// How a run is carried out and reported.
public struct RunOptions: Sendable {
    public var slack: Slack = .none
    /// Where run folders go (`<runs>/<scenario>/<timestamp>/recording.jsonl`); nil writes none.
    public var runsDirectory: String? = ".flatline/runs"
    /// Show every event, not only the important ones.
    public var verbose = false
    /// Show nothing while running.
    public var quiet = false
    /// Count checks that could not be judged (no capture, no source of their events) as failures.
    public var strict = false
    /// Capture the wire (libpcap) for every scenario, not only those with `capture: true`.
    public var capture = false
    /// The `flatline` executable, for scenarios that run the server as a child process.
    public var flatlineExecutable: String?
    /// Set when the whole run is interrupted (a signal); scenarios in flight stop and say why.
    public var interruption = Interruption()
    /// Write `report.html` into every run folder.
    public var report = false
    /// The invocation's JUnit file, for the report's links.
    public var junitPath: String?
    /// Keep the console timeline in the result (``ScenarioResult/timeline``: JUnit's system-out, the
    /// whole timelines printed after a concurrent run). Off when nothing will read it: a long quiet
    /// run would otherwise hold thousands of lines per finished scenario to the end.
    public var keepTimeline = true
    /// Receives console lines as they happen.
    public var console: @Sendable (String) -> Void = { print($0) }

    public init() {}
}

/// Why a run was interrupted (shared by all its scenarios; set once, by a signal handler).
public final class Interruption: Sendable {
    private let box = NIOLockedValueBox<String?>(nil)

    public init() {}

    public var reason: String? { box.withLockedValue { $0 } }

    /// Records the first reason; later ones are ignored.
    public func interrupt(_ reason: String) {
        box.withLockedValue { if $0 == nil { $0 = reason } }
    }
}
