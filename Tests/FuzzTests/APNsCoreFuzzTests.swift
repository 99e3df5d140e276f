import JSON
import APNsCore
import Foundation
import NIOCore
import XCTest

/// The payload validator and the response parser against mutated and generated input.
final class APNsCoreFuzzTests: XCTestCase {
    /// The validator accepts a payload exactly when Foundation parses it as a JSON object.
    func testPayloadValidatorAgreesWithFoundation() {
        let seed = FuzzSettings.seed
        var mutator = Mutator(rng: SplitMix64(seed: seed))
        var generator = JSONGenerator(rng: SplitMix64(seed: seed ^ 0x5555))
        let seeds = corpus("json")
        XCTAssertGreaterThanOrEqual(seeds.count, 3, "the JSON corpus is missing")
        var accepted = 0
        var rejected = 0
        for index in 0..<FuzzSettings.iterations {
            let input: [UInt8]
            switch index % 3 {
            case 0: input = Array(generator.object().utf8)
            default: input = mutator.mutate(seeds.randomElement(using: &mutator.rng)!, other: Array(generator.object().utf8))
            }
            let valid = input.withUnsafeBytes { bytes in
                do {
                    try JSONReader.validateObject(bytes)
                    return true
                } catch {
                    return false
                }
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(input))) is [String: Any]
            if valid != foundation && !foundationDiffersFromTheRFC(input) {
                fuzzFailure("validator says \(valid), Foundation says \(foundation)", seed: seed, index: index, input: input)
            }
            if valid { accepted += 1 } else { rejected += 1 }
        }
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertGreaterThan(rejected, 0)
    }

    /// Any body with any status parses without trapping; a well-formed error body gives back its reason and
    /// timestamp; a 200 never has a reason; an unreadable body keeps at most a bounded excerpt.
    func testResponseParserOnArbitraryBodies() {
        let seed = FuzzSettings.seed
        var mutator = Mutator(rng: SplitMix64(seed: seed))
        let seeds = corpus("error-bodies")
        XCTAssertGreaterThanOrEqual(seeds.count, 4, "the error-body corpus is missing")
        let reasons = ["BadDeviceToken", "Unregistered", "TooManyRequests", "ExpiredProviderToken", "PayloadTooLarge", "InternalServerError"]
        let statuses = [200, 400, 403, 404, 405, 410, 413, 429, 500, 503]
        for index in 0..<FuzzSettings.iterations {
            let status = statuses.randomElement(using: &mutator.rng)!
            if index % 4 == 0 {
                let reason = reasons.randomElement(using: &mutator.rng)!
                let timestamp = Int64.random(in: 0...4_000_000_000_000, using: &mutator.rng)
                let body = index % 8 == 0
                    ? #"{"reason":"\#(reason)","timestamp":\#(timestamp)}"#
                    : #" { "timestamp" : \#(timestamp) , "x" : [1, {"y": null}], "reason" : "\#(reason)" } "#
                let response = APNsResponse.parse(status: 410, apnsID: nil, apnsUniqueID: nil, body: ByteBuffer(string: body))
                if response.reason?.rawValue != reason || response.timestamp != timestamp {
                    fuzzFailure("well-formed body misread: \(response)", seed: seed, index: index, input: Array(body.utf8))
                }
                continue
            }
            let input = mutator.mutate(seeds.randomElement(using: &mutator.rng)!, other: seeds.randomElement(using: &mutator.rng)!)
            let response = APNsResponse.parse(status: status, apnsID: nil, apnsUniqueID: nil, body: ByteBuffer(bytes: input))
            if status == 200 && response.reason != nil {
                fuzzFailure("a 200 with a reason", seed: seed, index: index, input: input)
            }
            // An unreadable body is kept as at most maxUnknownTextLength of its bytes (an invalid byte reads as
            // one U+FFFD), so the reason has at most that many characters.
            if let reason = response.reason, reason.rawValue.unicodeScalars.count > APNsErrorBody.maxUnknownTextLength {
                fuzzFailure("an unbounded reason of \(reason.rawValue.unicodeScalars.count) characters", seed: seed, index: index, input: input)
            }
        }
    }
}

