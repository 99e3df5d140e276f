import APNsCore
import XCTest

/// An `apns-id` keeps its text exactly, inline when it is 36 ASCII bytes (a UUID) and as a string otherwise, and
/// the two forms of one text are the same value.
final class APNsIdentifierTests: XCTestCase {
    private func bytes(_ identifier: APNsIdentifier) -> [UInt8] {
        identifier.withUTF8 { Array($0) }
    }

    private func decoded(_ bytes: [UInt8]) -> APNsIdentifier {
        bytes.withUnsafeBytes { APNsIdentifier(decoding: $0) }
    }

    func testTextsComeBackByteForByteWhateverTheirForm() {
        let texts = [
            "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b", "4F2B1C3E-6A7D-4E8F-9A0B-1C2D3E4F5A6B",
            String(repeating: "\"", count: 36), "a\u{0}b\nc" + String(repeating: "x", count: 31),
            "", "id", String(repeating: "7", count: 35), String(repeating: "7", count: 37),
            String(repeating: "é", count: 18), String(repeating: "z", count: 300),
        ]
        for text in texts {
            let fromString = APNsIdentifier(text)
            let fromBytes = decoded(Array(text.utf8))
            XCTAssertEqual(fromString.description, text)
            XCTAssertEqual(fromBytes.description, text)
            XCTAssertEqual(bytes(fromString), Array(text.utf8))
            XCTAssertEqual(fromString.utf8Count, text.utf8.count)
            XCTAssertEqual(fromString, fromBytes, text)
            XCTAssertEqual(fromString.hashValue, fromBytes.hashValue, text)
        }
        XCTAssertNotEqual(APNsIdentifier("4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b"), APNsIdentifier("4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6c"))
    }

    func testBytesThatAreNotUTF8AreDecodedAsAStringWouldBe() {
        for invalid in [[UInt8](repeating: 0xFF, count: 36), [0x61, 0xC3] + [UInt8](repeating: 0x62, count: 34), [0xE2, 0x82]] {
            XCTAssertEqual(decoded(invalid).description, String(decoding: invalid, as: UTF8.self))
        }
    }

    func testRandomIdentifiersRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let length = Int.random(in: 30...40, using: &generator)
            let text = String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &generator))) })
            XCTAssertEqual(decoded(Array(text.utf8)).description, text)
            XCTAssertEqual(APNsIdentifier(text), decoded(Array(text.utf8)))
        }
    }
}
