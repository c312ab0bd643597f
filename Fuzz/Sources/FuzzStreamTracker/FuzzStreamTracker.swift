import NIOCore
import WebSocketSupport

/// The proxy's and the capture's view of a byte stream (an HTTP head, then WebSocket frames):
/// arbitrary bytes, cut at points the input chooses, must come out as segments that add up to the
/// bytes that went in (an unfinished HTTP head is held back), the same in any split, and never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStreamTracker(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard !bytes.isEmpty else { return 0 }
    // The first byte chooses the chunk sizes; the rest is the stream.
    let seed = bytes[0]
    let stream = Array(bytes.dropFirst())
    var whole = WebSocketStreamTracker()
    var split = WebSocketStreamTracker()
    if seed & 1 == 1 {  // a stream already past its handshake
        whole.startFrames()
        split.startFrames()
    }
    func run(_ tracker: inout WebSocketStreamTracker, chunks: [ArraySlice<UInt8>]) -> [UInt8] {
        var out: [UInt8] = []
        for chunk in chunks {
            tracker.split(ByteBuffer(bytes: chunk), onHead: { _ in }) { segment in
                switch segment {
                case .http(let buffer), .opaque(let buffer), .payload(_, let buffer, _, _):
                    out += buffer.readableBytesView
                case .frameHeader(let frame, let buffer):
                    // What the proxy and the capture report of a frame must fit an event's integer.
                    guard Int64(exactly: frame.payloadLength) != nil else { fatalError("a frame length of \(frame.payloadLength) reported") }
                    out += buffer.readableBytesView
                }
            }
        }
        return out
    }
    var chunks: [ArraySlice<UInt8>] = []
    var index = 0, step = Int(seed >> 1) % 7 + 1
    while index < stream.count {
        let end = min(stream.count, index + step)
        chunks.append(stream[index..<end])
        index = end
        step = step % 7 + 1
    }
    let once = run(&whole, chunks: [stream[...]])
    let pieces = run(&split, chunks: chunks)
    guard stream.starts(with: once) else { fatalError("one write: \(stream.count) bytes in, \(once.count) out, not a prefix") }
    guard pieces == once else { fatalError("\(chunks.count) writes gave \(pieces.count) bytes, one write \(once.count)") }
    guard whole.mode == split.mode else { fatalError("the split changed the outcome: \(whole.mode) vs \(split.mode)") }
    return 0
}
