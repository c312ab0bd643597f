public import EventSchema
public import FaultModel
public import NIOCore
public import NIOHTTP1
public import NIOPosix
import WebSocketSupport
import NetworkSupport

/// A minimal client of the control API (one request per connection), used by `flatline fault`.
public struct ControlClient: Sendable {
    public var address: HostPort
    public var token: String?
    public var group: any EventLoopGroup

    public init(address: HostPort, token: String? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.address = address
        self.token = token
        self.group = group
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: JSONValue?
    }

    public func request(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> Reply {
        let promise = group.next().makePromise(of: Reply.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ReplyCollector(promise: promise))
                }
            }
            .connect(host: address.host, port: address.port)
            .get()
        } catch {
            // Nothing will ever answer: the promise is settled here, and the error says it plainly.
            let (_, detail) = classify(error)
            let failure = ProxyError(.badRequest, "cannot reach the control API at \(address): \(detail)")
            promise.fail(failure)
            throw failure
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: address.description)
        headers.add(name: "User-Agent", value: "flatline")
        headers.add(name: "Connection", value: "close")
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let text = body.map { $0.description } ?? ""
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)), promise: nil)
        if !text.isEmpty { channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(string: text))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    private final class ReplyCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Reply>
        var status = 0
        var body: [UInt8] = []

        init(promise: EventLoopPromise<Reply>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(let buffer): body += Array(buffer.readableBytesView)
            case .end:
                let json = body.isEmpty ? nil : try? JSONValue(parsing: body)
                promise.succeed(Reply(status: status, body: json))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
        }
    }
}
