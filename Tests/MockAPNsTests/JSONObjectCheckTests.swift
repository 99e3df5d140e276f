import XCTest

@testable import MockAPNs

final class JSONObjectCheckTests: XCTestCase {
    private func check(_ text: String) -> Bool {
        JSONObjectCheck.isObject(Array(text.utf8))
    }

    func testAcceptsObjects() {
        for valid in [
            "{}", " {\n} ", #"{"aps":{"alert":{"title":"Hi","body":"\u00e9\n"},"badge":1}}"#,
            #"{"a":[1,-2.5,3e10,0.1E-2,true,false,null,"x",{}],"b":"é"}"#, #"{"a":"\"\\\/"}"#,
        ] {
            XCTAssertTrue(self.check(valid), valid)
        }
    }

    func testRefusesEverythingElse() {
        for invalid in [
            "", "[]", "\"s\"", "1", "{", "{}}", "{} {}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{a:1}"#,
            #"{"a":01}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":tru}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#,
            "{\"a\":\"\u{01}\"}", #"{"a":"unterminated}"#, #"{"a":[1,2}"#, #"{'a':1}"#,
        ] {
            XCTAssertFalse(self.check(invalid), invalid)
        }
    }

    func testNestingIsBounded() {
        let deep = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        XCTAssertFalse(self.check(deep))
        let shallow = String(repeating: #"{"a":"#, count: 10) + "1" + String(repeating: "}", count: 10)
        XCTAssertTrue(self.check(shallow))
    }

    func testUUIDText() {
        XCTAssertTrue(UUIDText.isCanonical("123e4567-e89b-12d3-a456-426614174000"))
        XCTAssertTrue(UUIDText.isCanonical("123E4567-E89B-12D3-A456-426614174000"))
        XCTAssertFalse(UUIDText.isCanonical("123e4567-e89b-12d3-a456-4266141740000"))
        XCTAssertFalse(UUIDText.isCanonical("123e4567-e89b-12d3-a456_426614174000"))
        XCTAssertEqual(UUIDText.lowercased("ABCDEF"), "abcdef")

        var generator = APNsIDGenerator()
        let ids = (0..<1000).map { _ in generator.next() }
        XCTAssertEqual(Set(ids).count, 1000)
        for id in ids.prefix(20) {
            XCTAssertTrue(UUIDText.isCanonical(id), id)
            XCTAssertEqual(id, id.lowercased())
            XCTAssertNotNil(UUID(uuidString: id))
        }
    }
}
