import XCTest

@testable import apns_gateway

/// The allocator settings `serve` applies, from the environment.
final class MallocTuningTests: XCTestCase {
    func testTheDefaultFixesTheMmapThresholdAt128KiB() throws {
        let tuning = try MallocTuning.fromEnvironment([:])
        XCTAssertEqual(tuning, MallocTuning(mmapThreshold: 131_072, trimThreshold: nil))
        XCTAssertTrue(tuning.apply(), "glibc takes the setting")
    }

    func testTheEnvironmentOverridesOrTurnsItOff() throws {
        XCTAssertEqual(try MallocTuning.fromEnvironment(["APNS_GATEWAY_MALLOC_TUNING": "off"]), .off)
        XCTAssertEqual(
            try MallocTuning.fromEnvironment([
                "APNS_GATEWAY_MALLOC_MMAP_THRESHOLD": "262144", "APNS_GATEWAY_MALLOC_TRIM_THRESHOLD": "1048576",
            ]),
            MallocTuning(mmapThreshold: 262_144, trimThreshold: 1_048_576))
        // Off wins over thresholds.
        XCTAssertEqual(
            try MallocTuning.fromEnvironment(["APNS_GATEWAY_MALLOC_TUNING": "off", "APNS_GATEWAY_MALLOC_MMAP_THRESHOLD": "262144"]),
            .off)
        XCTAssertTrue(MallocTuning(mmapThreshold: 262_144, trimThreshold: 1_048_576).apply())
        XCTAssertTrue(MallocTuning.standard.apply())
    }

    func testValuesOutsideGlibcsBoundsAreRefusedByName() {
        for (name, value) in [
            ("APNS_GATEWAY_MALLOC_MMAP_THRESHOLD", "64MiB"), ("APNS_GATEWAY_MALLOC_MMAP_THRESHOLD", "67108864"),
            ("APNS_GATEWAY_MALLOC_TRIM_THRESHOLD", "-1"), ("APNS_GATEWAY_MALLOC_TUNING", "maybe"),
        ] {
            XCTAssertThrowsError(try MallocTuning.fromEnvironment([name: value]), "\(name)=\(value)") { error in
                XCTAssertTrue("\(error)".hasPrefix(name), "\(error)")
                XCTAssertTrue("\(error)".contains(value), "\(error)")
            }
        }
    }
}
