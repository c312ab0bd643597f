import EventSchema
import FaultModel
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One direction of a proxied connection: observation, then the chain of fault stages, then the
/// other leg's socket.
final class FlowPipe {
    let flow: Flow
    unowned let connection: ProxiedConnection
    private(set) var stages: [FaultStage] = []
    var tracker = WebSocketStreamTracker()
    /// The unmasked payload of the short text frame being observed (its `frame` event carries it).
    var textSample: [UInt8]?
    private(set) var forwardedBytes = 0
    private(set) var inputBytes = 0
    private(set) var droppedBytes = 0

    init(flow: Flow, connection: ProxiedConnection) {
        self.flow = flow
        self.connection = connection
    }

    /// Whether a stage holds so much that reading from the sender must pause.
    var isBackedUp: Bool { stages.contains { $0.wantsPause } }

    var isSilent: Bool { stages.contains { $0.isSilent } }

    /// Bytes the flow's stages still hold.
    var bufferedBytes: Int { stages.reduce(0) { $0 + $1.bufferedBytes } }

    func input(_ item: PipeItem) {
        if case .data(let buffer) = item {
            inputBytes += buffer.readableBytes
            if tracker.mode != .opaque { connection.observe(buffer, pipe: self) }
        }
        if let first = stages.first { first.push(item) } else { output(item) }
    }

    fileprivate func output(_ item: PipeItem) {
        forwardedBytes += item.byteCount
        connection.deliver(item, flow: flow)
    }

    func recordDropped(_ bytes: Int, by fault: Fault) {
        droppedBytes += bytes
        connection.recordDropped(bytes, faultName: fault.name)
    }

    /// A stage emitted outside of a read (from a timer): flush at once.
    func didEmitFromTimer() {
        connection.flush(flow: flow)
        connection.resumeReading(from: flow == .upstream ? .client : .server)
        if bufferedBytes == 0 { connection.flowsChanged() }
    }

    func install(_ stage: FaultStage, first: Bool = false) {
        if first { stages.insert(stage, at: 0) } else { stages.append(stage) }
        relink()
    }

    /// Removes the stage of fault `name`, letting it deliver what it holds first.
    @discardableResult
    func uninstall(_ name: String) -> Bool {
        guard let index = stages.firstIndex(where: { $0.fault.name == name }) else { return false }
        let stage = stages[index]
        stage.remove()
        stages.remove(at: index)
        relink()
        return true
    }

    func stage(named name: String) -> FaultStage? { stages.first { $0.fault.name == name } }

    private func relink() {
        for (index, stage) in stages.enumerated() {
            if index + 1 < stages.count {
                let next = stages[index + 1]
                stage.next = { [unowned next] in next.push($0) }
            } else {
                stage.next = { [unowned self] in self.output($0) }
            }
        }
    }
}
