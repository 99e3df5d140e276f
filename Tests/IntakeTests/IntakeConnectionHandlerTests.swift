import APNs
import NIOCore
import NIOEmbedded
import XCTest

@testable import Intake

/// Counts the flushes and reads that reach the channel from the intake handler.
private final class OutboundRecorder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var flushes = 0
    var reads = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// The connection handler on an `EmbeddedChannel`: no sockets, no clients (no app is configured, so every
/// notification is answered `UnknownApp` by the intake itself, at once).
final class IntakeConnectionHandlerTests: XCTestCase {
    private func makeChannel(maxLineBytes: Int = 1024) throws -> (EmbeddedChannel, OutboundRecorder) {
        let shared = IntakeContext(
            configuration: IntakeConfiguration(socketPath: "/nonexistent/intake.sock", maxLineBytes: maxLineBytes),
            routes: APNsApps([]))
        let recorder = OutboundRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(IntakeConnectionHandler(context: shared))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    /// Every reply the channel has sent so far, one string per non-empty write.
    private func replies(_ channel: EmbeddedChannel) throws -> [String] {
        var replies: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            if buffer.readableBytes > 0 { replies.append(String(buffer: buffer)) }
        }
        return replies
    }

    private func send(_ id: Int) -> String {
        #"{"id":\#(id),"op":"send","notifications":[{"token":"\#(String(repeating: "ab", count: 32))","payload":{"aps":{}}}]}"#
            + "\n"
    }

    private func ping(_ id: Int) -> String { #"{"id":\#(id),"op":"ping"}"# + "\n" }

    func testRepliesOfOneReadGoOutInOneFlush() throws {
        let (channel, recorder) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: ping(1) + ping(2) + ping(3)))
        XCTAssertEqual(recorder.flushes, 1)
        XCTAssertEqual(
            try replies(channel),
            [#"{"id":1,"pong":true}"# + "\n", #"{"id":2,"pong":true}"# + "\n", #"{"id":3,"pong":true}"# + "\n"])
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testBatchRepliesCompletingTogetherGoOutInOneFlush() throws {
        let (channel, recorder) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: send(1) + send(2) + send(3)))
        // The results are in; their replies hop to the event loop, which has not run yet.
        XCTAssertEqual(recorder.flushes, 0)
        XCTAssertEqual(try replies(channel), [])
        channel.embeddedEventLoop.run()
        XCTAssertEqual(recorder.flushes, 1)
        let answered = try replies(channel)
        XCTAssertEqual(answered.count, 3)
        for (index, reply) in answered.enumerated() {
            XCTAssertTrue(reply.hasPrefix(#"{"id":\#(index + 1),"results":[{"#), reply)
            XCTAssertTrue(reply.contains("UnknownApp"), reply)
        }
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testReadingWaitsWhileNotWritable() throws {
        let (channel, recorder) = try makeChannel()
        channel.read()
        XCTAssertEqual(recorder.reads, 1)

        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: ping(1) + ping(2)))
        channel.read()
        XCTAssertEqual(recorder.reads, 1, "the read is held back")
        XCTAssertEqual(try replies(channel), [], "the lines wait")

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(recorder.reads, 2, "the held read goes on once the lines are answered")
        XCTAssertEqual(recorder.flushes, 0, "the flush comes later in this tick")
        channel.embeddedEventLoop.run()
        XCTAssertEqual(recorder.flushes, 1)
        XCTAssertEqual(try replies(channel), [#"{"id":1,"pong":true}"# + "\n", #"{"id":2,"pong":true}"# + "\n"])
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testEndOfInputAnswersTheLastLineWithoutNewlineThenCloses() throws {
        let (channel, _) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: ping(1) + send(2) + #"{"id":3,"op":"ping"}"#))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(channel.isActive, "the batch is not answered yet")
        channel.embeddedEventLoop.run()
        XCTAssertFalse(channel.isActive)
        let answered = try replies(channel)
        XCTAssertEqual(answered.count, 3)
        XCTAssertEqual(answered.first, #"{"id":1,"pong":true}"# + "\n")
        XCTAssertTrue(answered.contains(#"{"id":3,"pong":true}"# + "\n"), "\(answered)")
        XCTAssertTrue(answered.contains { $0.hasPrefix(#"{"id":2,"results""#) }, "\(answered)")
        XCTAssertTrue(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    func testDrainAnswersBufferedLinesWithShuttingDownThenCloses() throws {
        let (channel, recorder) = try makeChannel()
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: ping(1) + send(2) + #"{"id":3,"op":"pi"#))
        channel.pipeline.fireUserInboundEventTriggered(IntakeDrainEvent())
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(recorder.flushes, 1, "the close flushes the answers")
        let answered = try replies(channel)
        XCTAssertEqual(answered.count, 2)
        XCTAssertTrue(answered[0].hasPrefix(#"{"id":1,"error":{"code":"ShuttingDown""#), answered[0])
        XCTAssertTrue(answered[1].hasPrefix(#"{"id":2,"error":{"code":"ShuttingDown""#), answered[1])
        XCTAssertTrue(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    func testOverLongAndBlankLines() throws {
        let (channel, recorder) = try makeChannel(maxLineBytes: 40)
        let long = #"{"id":9,"op":"ping","pad":""# + String(repeating: "x", count: 60) + "\"}\n"
        try channel.writeInbound(ByteBuffer(string: "\n  \r\n" + long.prefix(30)))
        try channel.writeInbound(ByteBuffer(string: long.dropFirst(30) + ping(1)))
        XCTAssertEqual(recorder.flushes, 1, "the second read's two replies share one flush")
        let answered = try replies(channel)
        XCTAssertEqual(answered.count, 2)
        XCTAssertTrue(answered[0].hasPrefix(#"{"id":null,"error":{"code":"LineTooLong""#), answered[0])
        XCTAssertEqual(answered[1], #"{"id":1,"pong":true}"# + "\n")
        XCTAssertTrue(try channel.finish().isClean)
    }
}
