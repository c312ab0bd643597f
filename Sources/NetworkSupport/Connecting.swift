public import NIOCore
public import NIOPosix

extension ClientBootstrap {
    /// Connects straight to an IP address written as one (no resolver: thousands of connects at
    /// once would otherwise queue on getaddrinfo and Happy Eyeballs); a name is resolved as usual.
    public func connect(hostOrAddress host: String, port: Int) -> EventLoopFuture<any Channel> {
        if let address = try? SocketAddress(ipAddress: host, port: port) { return connect(to: address) }
        return connect(host: host, port: port)
    }
}
