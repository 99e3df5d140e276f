import JSON
import NIOCore
import XCTest

final class JSONScannerTests: XCTestCase {
    private func isObject(_ text: String) -> Bool {
        do {
            try JSONReader.validateObject(buffer(text))
            return true
        } catch {
            return false
        }
    }

    private func assertAccepts(_ texts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for text in texts {
            XCTAssertTrue(isObject(text), "should accept \(text.debugDescription)", file: file, line: line)
        }
    }

    private func assertRejects(_ texts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for text in texts {
            XCTAssertFalse(isObject(text), "should reject \(text.debugDescription)", file: file, line: line)
        }
    }

    func testSurrogateEscapesMustPair() {
        assertAccepts([#"{"a":"\ud83d\ude00"}"#, #"{"\uD83D\uDE00":1}"#, #"{"a":"\ud7ff\ue000"}"#])
        assertRejects([
            #"{"a":"\ud83d"}"#, #"{"a":"\ude00"}"#, #"{"a":"\ud83dx"}"#, #"{"a":"\ud83d\n"}"#,
            #"{"a":"\ud83d\ud83d"}"#, #"{"a":"\ud83d\u00e9"}"#, #"{"\udc00":1}"#,
        ])
        XCTAssertThrowsError(try JSONReader.validateObject(buffer(#"{"a":"\ud83d"}"#))) { error in
            XCTAssertEqual((error as? JSONSyntaxError)?.problem, "unpaired UTF-16 surrogate in a \\u escape (not a character)")
        }
    }

    func testObjectsAndNesting() {
        assertAccepts([
            "{}",
            #"{"a":1}"#,
            #"{"aps":{"alert":{"title":"t","body":"b"},"badge":3,"sound":"default"},"custom":[1,2,{"x":null}]}"#,
            #"{"a":[]}"#, #"{"a":[[]]}"#, #"{"a":{}}"#, #"{"a":[{},{}]}"#,
            #"{"a":true,"b":false,"c":null}"#,
            #"{"a":"","":""}"#,
            #"{"dup":1,"dup":2}"#,
        ])
    }

    func testWhitespace() {
        assertAccepts([
            " {} ", "\n\t\r {\n\"a\" : [ 1 , 2 ] ,\t\"b\":{ } }\r\n",
        ])
        // Only space, tab, CR and LF are JSON whitespace.
        assertRejects(["\u{0B}{}", "{}\u{0C}", "\u{A0}{}", "{\u{00A0}}"])
    }

    func testTopLevelMustBeAnObject() {
        assertRejects(["[]", "[{}]", "1", "\"{}\"", "true", "null", "", "   "])
    }

    func testTrailingGarbage() {
        assertRejects(["{}x", "{}}", "{}{}", "{} ,", "{}\0", #"{"a":1}]"#, "{} []"])
    }

    func testUnbalanced() {
        assertRejects([
            "{", "}", #"{"a":[}"#, #"{"a":[1}"#, #"{"a":{]}"#, #"{"a":[[1]}"#, #"{"a":{"b":1}"#, "{{}}", #"{"a":]"#,
        ])
    }

    func testSeparators() {
        assertRejects([
            #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":1 "b":2}"#, #"{,"a":1}"#, #"{"a"::1}"#, #"{"a":[1,]}"#, #"{"a":[,1]}"#,
            #"{"a":[1 2]}"#, #"{a:1}"#, #"{'a':1}"#, #"{1:1}"#, #"{"a"}"#, #"{"a":}"#,
        ])
    }

    func testStrings() {
        assertAccepts([
            #"{"a":"\"\\\/\b\f\n\r\t"}"#,
            #"{"a":"\u00e9\u0041\uD83D\uDE00\uffff"}"#,
            #"{"\u0061":"key with escape"}"#,
            "{\"a\":\"caf\u{E9} \u{1F600} \u{4E2D}\"}",  // raw UTF-8, 2/3/4 bytes
            #"{"a":"'single' quotes"}"#,
        ])
        assertRejects([
            #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\u12G4"}"#, #"{"a":"\"}"#, #"{"a":"abc}"#, #"{"a":"\u"}"#,
            "{\"a\":\"tab\there\"}", "{\"a\":\"new\nline\"}", "{\"a\":\"nul\0\"}", #"{"a":"\'"}"#,
        ])
    }

    func testInvalidUTF8InStrings() {
        let invalid: [[UInt8]] = [
            [0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0xAF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xC3], [0xE2, 0x82],
        ]
        for sequence in invalid {
            let bytes = Array(#"{"a":""#.utf8) + sequence + Array(#""}"#.utf8)
            XCTAssertThrowsError(try JSONReader.validateObject(buffer(bytes)), "\(sequence)")
        }
        let valid: [[UInt8]] = [[0xC2, 0x80], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xF0, 0x90, 0x80, 0x80],
                                [0xF4, 0x8F, 0xBF, 0xBF]]
        for sequence in valid {
            let bytes = Array(#"{"a":""#.utf8) + sequence + Array(#""}"#.utf8)
            XCTAssertNoThrow(try JSONReader.validateObject(buffer(bytes)), "\(sequence)")
        }
        // Non-ASCII outside strings is not JSON.
        XCTAssertThrowsError(try JSONReader.validateObject(buffer([0x7B, 0xC3, 0xA9, 0x7D])))
    }

    func testSpecialBytesAtEveryWordOffset() {
        // Strings are skipped eight bytes at a time: a special byte must be caught wherever it falls.
        for offset in 0..<20 {
            let before = String(repeating: "a", count: offset)
            let after = String(repeating: "b", count: 19 - offset)
            func text(_ middle: String) -> String { "{\"k\":\"" + before + middle + after + "\"}" }
            assertAccepts([text(""), text("\\n"), text("\\u00e9"), text("é"), text("😀"), text("\u{7F}"), text(" ~")])
            assertRejects([text("\n"), text("\u{1F}"), text("\0"), text("\""), text("\\ "), text("\\x")])
            let bytes = Array(text("").utf8)
            var invalid = bytes
            invalid.insert(0xFF, at: 6 + offset)
            XCTAssertThrowsError(try JSONReader.validateObject(buffer(invalid)), "offset \(offset)")
            // An unterminated string ending anywhere in a word.
            XCTAssertThrowsError(try JSONReader.validateObject(buffer(Array(bytes.prefix(6 + offset)))))
        }
    }

    func testNumbers() {
        assertAccepts([
            #"{"n":0}"#, #"{"n":-0}"#, #"{"n":123}"#, #"{"n":-1.5}"#, #"{"n":0.25}"#, #"{"n":1e10}"#, #"{"n":1E+2}"#,
            #"{"n":2.5e-3}"#, #"{"n":[0,1,-2]}"#, #"{"n":12345678901234567890123}"#,
        ])
        assertRejects([
            #"{"n":01}"#, #"{"n":-}"#, #"{"n":+1}"#, #"{"n":1.}"#, #"{"n":.5}"#, #"{"n":1e}"#, #"{"n":1e+}"#,
            #"{"n":0x10}"#, #"{"n":NaN}"#, #"{"n":Infinity}"#, #"{"n":--1}"#, #"{"n":1.2.3}"#, #"{"n":-01}"#,
        ])
    }

    func testLiterals() {
        assertRejects([#"{"a":tru}"#, #"{"a":True}"#, #"{"a":nul}"#, #"{"a":falsey}"#, #"{"a":undefined}"#, #"{"a":t"#])
    }

    func testDeepNestingNeedsNoRecursion() {
        // Deeper than the 64 levels kept in one word, and mixed object/array levels.
        for depth in [63, 64, 65, 130, 5000] {
            var text = ""
            for level in 0..<depth {
                text += level % 2 == 0 ? #"{"k":"# : "["
            }
            text += "1"
            for level in (0..<depth).reversed() {
                text += level % 2 == 0 ? "}" : "]"
            }
            XCTAssertTrue(isObject(text), "depth \(depth)")
            // Swap the innermost closer: must be caught at any depth.
            var broken = text
            let index = broken.index(broken.startIndex, offsetBy: broken.count - depth)
            let closer = broken[index]
            broken.replaceSubrange(index...index, with: closer == "}" ? "]" : "}")
            XCTAssertFalse(isObject(broken), "broken depth \(depth)")
        }
    }

    func testErrorOffsetAndProblem() {
        do {
            try JSONReader.validateObject(buffer(#"{"a":1,}"#))
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.offset, 7)
            XCTAssertEqual(error.problem, "expected a string key")
        }
        do {
            try JSONReader.validateObject(buffer("{} x"))
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.offset, 3)
            XCTAssertTrue(error.description.contains("after the top-level object"))
        }
    }

    func testRawBufferEntryPointAndBufferSlice() throws {
        let bytes = Array(#"{"a":[1,2]}"#.utf8)
        try bytes.withUnsafeBytes { raw in
            try JSONReader.validateObject(raw)
        }
        // Only the readable bytes count.
        var buffer = ByteBuffer(string: "xx{}")
        buffer.moveReaderIndex(forwardBy: 2)
        XCTAssertNoThrow(try JSONReader.validateObject(buffer))
    }
}

/// The string scan skips plain ASCII sixteen bytes at a time (`CJSONScan`); whatever byte ends the run, at any
/// offset in or across those blocks, must be judged as the byte-by-byte rules judge it.
final class JSONStringRunTests: XCTestCase {
    private func document(_ content: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer(string: #"{"k":""#)
        buffer.writeBytes(content)
        buffer.writeString(#""}"#)
        return buffer
    }

    func testEveryKindOfByteIsJudgedAtEveryOffset() {
        for length in 1...40 {
            for offset in 0..<length {
                func content(_ insert: [UInt8]) -> [UInt8] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes.replaceSubrange(offset..<(offset + 1), with: insert)
                    return bytes
                }
                let at = "length \(length), offset \(offset)"
                XCTAssertNoThrow(try JSONReader.validateObject(document(content([UInt8(ascii: "\\"), UInt8(ascii: "n")]))), "escape, \(at)")
                XCTAssertNoThrow(try JSONReader.validateObject(document(content([0xC3, 0xA9]))), "é, \(at)")
                XCTAssertNoThrow(try JSONReader.validateObject(document(content([0x7F]))), "DEL, \(at)")
                XCTAssertThrowsError(try JSONReader.validateObject(document(content([0x01]))), "control character, \(at)")
                XCTAssertThrowsError(try JSONReader.validateObject(document(content([0xFF]))), "invalid UTF-8, \(at)")
                XCTAssertThrowsError(try JSONReader.validateObject(document(content([UInt8(ascii: "\"")]))), "bare quote, \(at)")
            }
        }
    }
}
