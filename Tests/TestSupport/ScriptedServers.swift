import EventSchema
public import HeartbeatCore
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import HeartbeatWebSocket
import WebSocketSupport
import NetworkSupport

/// A TCP server on 127.0.0.1 port 0 whose connections do whatever `onConnection` sets up:
/// stay silent, answer plain HTTP, and so on. For testing clients against broken servers.
public final class RawTCPServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    public init(onConnection: @escaping @Sendable (any Channel) throws -> Void) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try onConnection(channel) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// Accepts connections and reads everything, answering nothing: a server that never answers the upgrade.
    public static func silent() async throws -> RawTCPServer {
        try await RawTCPServer { channel in try channel.pipeline.syncOperations.addHandler(Sink()) }
    }

    /// Answers every request with a fixed raw HTTP response, then closes.
    public static func plainHTTP(response: String) async throws -> RawTCPServer {
        try await RawTCPServer { channel in
            try channel.pipeline.syncOperations.addHandler(CannedResponse(response: response))
        }
    }

    public func close() async {
        try? await channel.close()
    }

    private final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    private final class CannedResponse: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let response: String
        var received = ""
        init(response: String) { self.response = response }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            guard received.contains("\r\n\r\n") else { return }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

/// What a scripted WebSocket server can do from inside its script.
public struct ScriptedConnection: Sendable {
    fileprivate let channel: any Channel
    fileprivate let rawWriter: NIOLoopBound<ChannelHandlerContext>

    /// Sends a frame (servers do not mask).
    public func send(_ frame: OutboundFrame) {
        channel.writeAndFlush(frame.webSocketFrame(allocator: channel.allocator, maskKey: nil), promise: nil)
    }

    /// Writes bytes straight to the socket, bypassing the WebSocket encoder (garbage frames).
    public func sendRaw(_ bytes: [UInt8]) {
        let context = rawWriter.value
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    public func close() { channel.close(promise: nil) }
}

/// A WebSocket server on 127.0.0.1 port 0 whose behaviour is a script: `onOpen` runs after the
/// upgrade, `onFrame` for each inbound frame.
public final class ScriptedWebSocketServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    public init(
        onOpen: @escaping @Sendable (ScriptedConnection) -> Void = { _ in },
        onFrame: @escaping @Sendable (InboundFrame, ScriptedConnection) -> Void
    ) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketServerUpgrader<Void>(
                        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let head = RawHead()
                                try channel.pipeline.syncOperations.addHandler(head, position: .first)
                                let context = try channel.pipeline.syncOperations.context(handler: head)
                                let connection = ScriptedConnection(channel: channel, rawWriter: NIOLoopBound(context, eventLoop: channel.eventLoop))
                                try channel.pipeline.syncOperations.addHandler(ScriptHandler(connection: connection, onFrame: onFrame))
                                onOpen(connection)
                            }
                        }
                    )
                    _ = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                        configuration: .init(
                            upgradeConfiguration: .init(upgraders: [upgrader], notUpgradingCompletionHandler: { $0.eventLoop.makeSucceededVoidFuture() })
                        )
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    public func close() async {
        try? await channel.close()
    }

    private final class RawHead: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
    }

    private final class ScriptHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        let connection: ScriptedConnection
        let onFrame: @Sendable (InboundFrame, ScriptedConnection) -> Void
        init(connection: ScriptedConnection, onFrame: @escaping @Sendable (InboundFrame, ScriptedConnection) -> Void) {
            self.connection = connection
            self.onFrame = onFrame
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if let frame = InboundFrame(unwrapInboundIn(data)) { onFrame(frame, connection) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
