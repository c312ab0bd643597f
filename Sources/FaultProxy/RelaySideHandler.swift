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

/// One side's socket: reads into the connection, writes what the connection delivers, and
/// passes on `read()` only when the other side can take more (back-pressure).
final class RelaySideHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: Side
    /// Handlers keep their connection alive; the connection refers to them weakly, so everything
    /// is released once both channels are gone.
    let connection: ProxiedConnection
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var needsFlush = false

    init(side: Side, connection: ProxiedConnection) {
        self.side = side
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        guard side == .client else { return }
        connection.owner?.handedOver(context.channel)
        // A connection accepted while the listener closes (a `refuse`, a stop) may be closed by NIO
        // before it ever becomes active, so `channelInactive` never comes; its pipeline is still
        // torn down. (No close-future callback per connection: thousands of idle ones add up.)
        let connection = connection
        context.eventLoop.execute { connection.legInactive(.client) }
    }

    func channelActive(context: ChannelHandlerContext) {
        // Accepted and handed over: a listener closing now no longer has to wait for it.
        if side == .client { connection.owner?.handedOver(context.channel) }
        context.fireChannelActive()
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.flush(flow: side.outgoingFlow)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connection.peerClosed(side, how: .fin)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET || io.errnoCode == EPIPE {
            connection.peerClosed(side, how: .rst)
        } else {
            connection.peerClosed(side, how: .rst, detail: "\(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.legInactive(side)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection.resumeReading(from: side.opposite) }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if connection.mayRead(from: side) {
            context.read()
        } else {
            readPending = true
        }
    }

    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        read(context: context)
    }

    func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    func flush() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// Forwards a FIN once everything written so far has reached the socket: a half-close, or a
    /// full close when the peer has already closed its side (NIO would otherwise escalate the
    /// half-close and drop writes still pending).
    func shutdownOutput(inputAlreadyClosed: Bool) {
        guard let context else { return }
        needsFlush = false
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: drained)
        let channel = context.channel
        drained.futureResult.whenComplete { _ in
            if inputAlreadyClosed {
                channel.close(promise: nil)
            } else {
                channel.close(mode: .output, promise: nil)
            }
        }
    }

    func close(how: CloseHow) {
        guard let context else { return }
        let channel = context.channel
        if how == .rst, let provider = channel as? any SocketOptionProvider {
            // SO_LINGER 0: close() sends RST instead of FIN.
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        // A FIN after the bytes already written — unless the peer stopped reading: then the
        // socket is closed anyway after a grace, so that closing never waits forever.
        needsFlush = false
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: drained)
        drained.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
