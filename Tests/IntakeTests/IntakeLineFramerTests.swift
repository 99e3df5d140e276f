import NIOCore
import XCTest

@testable import Intake

final class IntakeLineFramerTests: XCTestCase {
    private func drain(_ framer: inout IntakeLineFramer) -> [String] {
        var found: [String] = []
        while true {
            switch framer.next() {
            case .line(let line): found.append(String(buffer: line))
            case .tooLong: found.append("<too long>")
            case .none: return found
            }
        }
    }

    func testLinesCarriageReturnsAndBlankLines() {
        var framer = IntakeLineFramer(maxLineBytes: 10)
        framer.append(ByteBuffer(string: "a\r\n\n \t\r\n\r\nb c\nrest"))
        XCTAssertTrue(framer.hasCompleteLine)
        XCTAssertEqual(drain(&framer), ["a", "b c"])
        XCTAssertFalse(framer.hasCompleteLine)
        XCTAssertFalse(framer.isEmpty)
        framer.append(ByteBuffer(string: "\n"))
        XCTAssertEqual(drain(&framer), ["rest"])
        XCTAssertTrue(framer.isEmpty)
    }

    func testTheBoundIsOnTheLineWithoutItsNewline() {
        var framer = IntakeLineFramer(maxLineBytes: 4)
        framer.append(ByteBuffer(string: "1234\n12345\n1234"))
        XCTAssertEqual(drain(&framer), ["1234", "<too long>"])
        framer.append(ByteBuffer(string: "\n"))
        XCTAssertEqual(drain(&framer), ["1234"])
    }

    func testAnOverLongLineIsDroppedAsItArrivesAndReportedOnceAtItsNewline() {
        var framer = IntakeLineFramer(maxLineBytes: 4)
        framer.append(ByteBuffer(string: "ok\n12"))
        XCTAssertEqual(drain(&framer), ["ok"])
        framer.append(ByteBuffer(string: "345"))
        XCTAssertEqual(drain(&framer), [])
        XCTAssertTrue(framer.discarding)
        XCTAssertTrue(framer.isEmpty, "the bytes of the over-long line are not kept")
        framer.append(ByteBuffer(string: "6789"))
        XCTAssertEqual(drain(&framer), [])
        XCTAssertNil(framer.takeRest(), "the skipped line is not answered as a last line")
        framer.append(ByteBuffer(string: "0\nnext\n"))
        XCTAssertEqual(drain(&framer), ["<too long>", "next"])
        XCTAssertFalse(framer.discarding)
    }

    func testTheRestAtTheEndOfInputIsTakenAsItIs() {
        var framer = IntakeLineFramer(maxLineBytes: 10)
        framer.append(ByteBuffer(string: "a\n  "))
        XCTAssertEqual(drain(&framer), ["a"])
        XCTAssertEqual(framer.takeRest().map { String(buffer: $0) }, "  ")
        XCTAssertTrue(framer.isEmpty)
        XCTAssertNil(framer.takeRest())
    }

    func testLongLinesArrivingInPiecesStayWholeAndApart() {
        // Lines of 200 KB in reads of 64 KiB, each read ending inside a line, every line kept: a line handed out
        // is not changed by later appends (they copy rather than write into its storage).
        let lines = (0..<3).map { String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))), count: 200_000) }
        let input = Array((lines.joined(separator: "\n") + "\n").utf8)
        var framer = IntakeLineFramer(maxLineBytes: 1 << 20)
        var taken: [ByteBuffer] = []
        var offset = 0
        while offset < input.count {
            let end = min(offset + 65_536, input.count)
            framer.append(ByteBuffer(bytes: input[offset..<end]))
            offset = end
            while case .line(let line) = framer.next() { taken.append(line) }
        }
        XCTAssertEqual(taken.map { String(buffer: $0) }, lines)
        XCTAssertTrue(framer.isEmpty)
    }

    /// Long lines dropped once handled (as the intake does) are gathered one after the other in one storage, in
    /// both cases: a read that ends inside the next line, and reads that end exactly at a line's end.
    func testLongLinesDroppedOnceHandledReuseOneStorage() {
        for (lineLength, read) in [(200_000, 65_536), (131_071, 65_536)] {
            let lines = (0..<4).map { String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))), count: lineLength) }
            let input = Array((lines.joined(separator: "\n") + "\n").utf8)
            var framer = IntakeLineFramer(maxLineBytes: 1 << 20)
            var texts: [String] = []
            var starts: [Int] = []
            var offset = 0
            while offset < input.count {
                let end = min(offset + read, input.count)
                framer.append(ByteBuffer(bytes: input[offset..<end]))
                offset = end
                while case .line(let line) = framer.next() {
                    texts.append(String(buffer: line))
                    starts.append(line.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) })
                }
            }
            XCTAssertEqual(texts, lines, "lines of \(lineLength)")
            // The first line grew out of a read's buffer; each later one starts where the one before did.
            XCTAssertEqual(Set(starts.dropFirst()).count, 1, "lines of \(lineLength): one storage, reused")
            XCTAssertTrue(framer.isEmpty)
        }
    }
}
