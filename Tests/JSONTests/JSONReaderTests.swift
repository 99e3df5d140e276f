import JSON
import NIOCore
import XCTest

func buffer(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

final class JSONReaderTests: XCTestCase {
    /// Reads every member of an object: strings decoded, other values as their raw text.
    private func members(_ text: String) throws -> [(String, String)] {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBytes { raw throws -> [(String, String)] in
            var reader = JSONReader(UnsafeRawBufferPointer(raw))
            var result: [(String, String)] = []
            try reader.beginObject()
            var first = true
            while let key = try reader.nextMember(&first) {
                let name = reader.string(key)
                if try reader.peekKind() == .string {
                    result.append((name, try reader.readString()))
                } else {
                    let range = try reader.skipValue()
                    result.append((name, String(decoding: UnsafeRawBufferPointer(rebasing: reader.bytes[range]), as: UTF8.self)))
                }
            }
            try reader.expectEnd()
            return result
        }
    }

    func testReadsMembersWithRangesAndDecodedStrings() throws {
        let read = try members(#" { "a" : "x\ny\u00e9" , "b":[1, {"c":null}], "\u0064":-12.5e3 } "#)
        XCTAssertEqual(read.map(\.0), ["a", "b", "d"])
        XCTAssertEqual(read.map(\.1), ["x\nyé", #"[1, {"c":null}]"#, "-12.5e3"])
    }

    func testTheReaderAndTheValidatorShareOneGrammar() {
        // Each of these is refused by both: the reader has no grammar of its own.
        let broken = [#"{"a":01}"#, #"{"a":"\x"}"#, #"{"a":[1,]}"#, #"{"a":tru}"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":"\ud800"}"#, "{\"a\":\"\u{01}\"}", #"{} x"#]
        for text in broken {
            XCTAssertThrowsError(try JSONReader.validateObject(buffer(text)), text)
            XCTAssertThrowsError(try members(text), text)
        }
    }

    func testErrorsNameTheOffset() {
        XCTAssertThrowsError(try members(#"{"a":1 "b":2}"#)) { error in
            let syntax = error as? JSONSyntaxError
            XCTAssertEqual(syntax?.offset, 7)
            XCTAssertEqual(syntax?.problem, "expected ',' or '}'")
        }
    }

    func testDeepNestingNeedsNoRecursion() throws {
        let depth = 100_000
        let text = #"{"a":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        XCTAssertEqual(try members(text).first?.0, "a")
    }

    func testIntegers() {
        func integer(_ text: String) -> Int64? {
            Array(text.utf8).withUnsafeBytes { JSONNumber.integer($0) }
        }
        XCTAssertEqual(integer("0"), 0)
        XCTAssertEqual(integer("-42"), -42)
        XCTAssertEqual(integer("9223372036854775807"), Int64.max)
        XCTAssertEqual(integer("-9223372036854775808"), Int64.min)
        XCTAssertNil(integer("9223372036854775808"))
        XCTAssertNil(integer("1.5"))
        XCTAssertNil(integer("1e3"))
        XCTAssertNil(integer("-"))
    }

    func testObjectBytesCarryTheirCheck() throws {
        let text = buffer(#"{"payload":{"aps":{}},"x":1}"#)
        let object = try text.withUnsafeReadableBytes { raw throws -> JSONObjectRange in
            var reader = JSONReader(raw)
            try reader.beginObject()
            var first = true
            _ = try reader.nextMember(&first)
            return try reader.skipObject()
        }
        let bytes = try XCTUnwrap(JSONObjectBytes.copying([object], of: text).first ?? nil)
        XCTAssertEqual(String(buffer: bytes.buffer), #"{"aps":{}}"#)
        XCTAssertThrowsError(try JSONObjectBytes(validating: buffer("[1]")))
    }

    func testObjectsCopiedTogetherComeBackInOrderInOneStorage() throws {
        let text = buffer(#"[{"a":1},2,{"bb":[true]},{}]"#)
        let objects = try text.withUnsafeReadableBytes { raw throws -> [JSONObjectRange?] in
            var reader = JSONReader(raw)
            var objects: [JSONObjectRange?] = []
            try reader.beginArray()
            var first = true
            while try reader.nextElement(&first) {
                if try reader.peekKind() == .object {
                    objects.append(try reader.skipObject())
                } else {
                    try reader.skipValue()
                    objects.append(nil)
                }
            }
            return objects
        }
        let copies = JSONObjectBytes.copying(objects, of: text)
        XCTAssertEqual(copies.map { $0.map { String(buffer: $0.buffer) } }, [#"{"a":1}"#, nil, #"{"bb":[true]}"#, "{}"])
        // One storage holding the objects back to back, not the text's: nothing pins the text.
        let bases = copies.compactMap { $0?.buffer.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) } }
        let text0 = text.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) }
        XCTAssertEqual(bases.count, 3)
        XCTAssertEqual(bases[1] - bases[0], 7)
        XCTAssertEqual(bases[2] - bases[1], 13)
        XCTAssertFalse((text0..<text0 + text.readableBytes).contains(bases[0]))

        // With buffers of at most 16 bytes: {"a":1} alone, then {"bb":[true]} and {} together.
        let chunked = JSONObjectBytes.copying(objects, of: text, chunkBytes: 16)
        XCTAssertEqual(chunked.map { $0.map { String(buffer: $0.buffer) } }, [#"{"a":1}"#, nil, #"{"bb":[true]}"#, "{}"])
        let chunkedBases = chunked.compactMap { $0?.buffer.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) } }
        XCTAssertEqual(chunkedBases[2] - chunkedBases[1], 13)
        XCTAssertNotEqual(chunkedBases[1] - chunkedBases[0], 7, "a second buffer")
        XCTAssertLessThanOrEqual(try XCTUnwrap(chunked[0]).buffer.storageCapacity, 16)
        XCTAssertEqual(JSONObjectBytes.copying([], of: text), [])
    }
}

final class JSONFieldsTests: XCTestCase {
    func testTypedAccessAndUnknownFields() throws {
        var fields = JSONFields(
            try JSONObject(parsing: buffer(#"{"id":1,"op":"x","s":"t","n":2,"f":1.5,"b":true,"o":{"k":"v"},"l":["a","b"],"z":null,"typo":1}"#)),
            known: ["id", "op"])
        XCTAssertEqual(try fields.string("s"), "t")
        XCTAssertEqual(try fields.integer("n"), 2)
        XCTAssertEqual(try fields.number("f"), 1.5)
        XCTAssertEqual(try fields.bool("b"), true)
        XCTAssertEqual(try fields.rawObject("o").map { String(buffer: $0) }, #"{"k":"v"}"#)
        XCTAssertEqual(try fields.strings("l"), ["a", "b"])
        XCTAssertNil(try fields.string("z"))
        XCTAssertNil(try fields.string("absent"))
        XCTAssertThrowsError(try fields.finish()) { error in
            let field = error as? JSONFieldError
            XCTAssertEqual(field?.field, "typo")
            XCTAssertEqual(field?.problem, .unknown)
        }
        _ = fields.value("typo")
        XCTAssertNoThrow(try fields.finish())
    }

    func testWrongKindsNameTheMemberAndWhatItIs() throws {
        var fields = JSONFields(try JSONObject(parsing: buffer(#"{"s":5,"n":"5","l":["a",3],"e":"","apps":[{"k":1},2]}"#)), path: "top")
        XCTAssertThrowsError(try fields.string("s")) { XCTAssertEqual("\($0)", #""top.s" must be a string, not a number"#) }
        XCTAssertThrowsError(try fields.integer("n")) { XCTAssertEqual("\($0)", #""top.n" must be an integer, not a string"#) }
        XCTAssertThrowsError(try fields.strings("l")) { XCTAssertEqual("\($0)", #""top.l" [1] must be a non-empty string, not a number"#) }
        XCTAssertThrowsError(try fields.string("e")) { XCTAssertEqual("\($0)", #""top.e" must not be empty"#) }
        XCTAssertThrowsError(try fields.objects("apps")) { error in
            XCTAssertEqual((error as? JSONFieldError)?.problem, .badElement(index: 1, expected: "an object", found: .number))
        }
    }

    func testNestedObjectsKeepTheirPath() throws {
        var top = JSONFields(try JSONObject(parsing: buffer(#"{"apps":[{"name":"a","extra":1}]}"#)))
        var app = try XCTUnwrap(try top.objects("apps")?.first)
        XCTAssertEqual(try app.string("name"), "a")
        XCTAssertThrowsError(try app.finish()) { XCTAssertEqual(($0 as? JSONFieldError)?.path, "apps[0].extra") }
    }

    func testRepeatedKeyKeepsTheLastValue() throws {
        var fields = JSONFields(try JSONObject(parsing: buffer(#"{"a":1,"a":2}"#)))
        XCTAssertEqual(try fields.integer("a"), 2)
        XCTAssertEqual(fields.object.keys, ["a"])
    }
}

final class JSONWriterTests: XCTestCase {
    func testMembersNestingAndEscapes() {
        var writer = JSONWriter()
        writer.string("s", "a\"b\\c\n\u{01}\u{08}é")
        writer.int("n", -5)
        writer.bool("b", false)
        writer.beginArray("l")
        writer.element("x")
        writer.beginObject()
        writer.int("k", 1)
        writer.endObject()
        writer.rawValue(buffer("[true]"))
        writer.endArray()
        writer.raw("r", buffer(#"{"z":null}"#))
        writer.double("d", .infinity)
        XCTAssertEqual(
            String(buffer: writer.buffer),
            #""s":"a\"b\\c\n\u0001\bé","n":-5,"b":false,"l":["x",{"k":1},[true]],"r":{"z":null},"d":0"#)
    }

    func testIntegersInDecimal() {
        for value: Int64 in [0, 9, 10, -1, -10, 200, 410, 1_700_000_000_000, .max, .min] {
            var buffer = ByteBuffer()
            JSONWriter.writeInteger(value, into: &buffer)
            XCTAssertEqual(String(buffer: buffer), String(value))
        }
    }

    func testRenderedMembersTakeTheirComma() {
        var writer = JSONWriter()
        writer.member(rendered: #""a":1"#)
        writer.member(rendered: #""b":"x""#)
        XCTAssertEqual(String(buffer: writer.buffer), #""a":1,"b":"x""#)
    }

    func testWhatTheWriterWritesTheReaderReadsBack() throws {
        let texts = ["plain", "quote\" back\\slash", "\u{00}\u{1f}\u{7f}", "emoji 😀 and é", ""]
        for text in texts {
            var writer = JSONWriter()
            writer.string("v", text)
            var object = ByteBuffer(string: "{")
            object.writeImmutableBuffer(writer.buffer)
            object.writeString("}")
            let decoded = try JSONObject(parsing: object)["v"]?.string
            XCTAssertEqual(decoded, text)
        }
    }
}
