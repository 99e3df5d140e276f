import APNs
import Foundation
import LiveActivityService
import XCTest

/// The documents name what the code does: every op, every gateway reason, the wire names of result fields.
final class DocumentationTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    func testProtocolNamesEveryLiveActivityOpAndGatewayReason() throws {
        let text = try read("docs/protocol.md")
        for op in LiveActivityService.operationNames {
            XCTAssertTrue(text.contains("`\(op)`"), "docs/protocol.md does not name \(op)")
        }
        let reasons = try XCTUnwrap(text.components(separatedBy: "\n").first { $0.hasPrefix("Gateway reasons:") })
        let paragraph = text[text.range(of: reasons)!.lowerBound...].prefix(400)
        for reason in GatewayReason.allCases {
            XCTAssertTrue(paragraph.contains("`\(reason.rawValue)`"), "docs/protocol.md's gateway reasons lack \(reason.rawValue)")
        }
    }

    func testLiveActivityDocNamesEveryOp() throws {
        let text = try read("docs/live-activities.md")
        for op in LiveActivityService.operationNames {
            XCTAssertTrue(text.contains(op), "docs/live-activities.md does not name \(op)")
        }
    }

    func testLiveActivityDocNamesEveryErrorCodeAndSettingOfTheService() throws {
        let text = try read("docs/live-activities.md")
        for code in LiveActivityServiceError.Code.allCases {
            XCTAssertTrue(text.contains("| `\(code.rawValue)`") || text.contains("/ `\(code.rawValue)`"),
                "docs/live-activities.md's errors lack \(code.rawValue)")
        }
        for key in ["endedRetentionSeconds", "priorityBudgetPerHour"] {
            XCTAssertTrue(text.contains("| `\(key)` |"), "docs/live-activities.md's settings lack \(key)")
        }
    }

    func testReadmeUsesTheWireNameOfTheDuplicateMark() throws {
        let text = try read("README.md")
        XCTAssertFalse(text.contains("retriedAfterUnknownOutcome"), "the wire field is maybeDuplicate")
        XCTAssertTrue(text.contains("maybeDuplicate"))
    }
}
