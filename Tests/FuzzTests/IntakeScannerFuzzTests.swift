import Foundation
@testable import Intake
import XCTest

/// The intake's request scanner against mutated and generated lines: it never crashes or hangs, every
/// range it returns lies inside the line, it agrees with Foundation on what is valid JSON, and a generated
/// request comes back exactly as it was built.
final class IntakeScannerFuzzTests: XCTestCase {
    private let maxBatchSize = 64

    func testMutatedLinesKeepTheScannersInvariants() {
        let seed = FuzzSettings.seed
        var mutator = Mutator(rng: SplitMix64(seed: seed))
        let seeds = corpus("intake")
        XCTAssertGreaterThanOrEqual(seeds.count, 5, "the intake corpus is missing")
        var outcomes: [String: Int] = [:]
        for index in 0..<FuzzSettings.iterations {
            let base = seeds[index % seeds.count]
            let input = index < seeds.count ? base : mutator.mutate(base, other: seeds.randomElement(using: &mutator.rng)!)
            let request = input.withUnsafeBytes { RequestScanner.scan($0, maxBatchSize: maxBatchSize) }
            outcomes[check(request, input: input, seed: seed, index: index), default: 0] += 1
            if index < 3_000 || index % 10 == 0 {
                checkAgainstFoundation(request, input: input, seed: seed, index: index)
            }
        }
        // The mutations must reach both sides of the scanner, or the run proves little.
        XCTAssertGreaterThan(outcomes["send", default: 0], 0, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["InvalidJSON", default: 0], 0, "\(outcomes)")
    }

    func testGeneratedRequestsScanBackToWhatWasBuilt() {
        let seed = FuzzSettings.seed
        var generator = JSONGenerator(rng: SplitMix64(seed: seed))
        for index in 0..<max(1, FuzzSettings.iterations / 10) {
            var expected: [(token: String, payload: String, priority: Int64?, collapse: String?)] = []
            var items: [String] = []
            for _ in 0..<Int.random(in: 0...5, using: &generator.rng) {
                let token = generator.stringWithValue()
                let payload = generator.object()
                let priority: Int64? = Bool.random(using: &generator.rng) ? Int64.random(in: -5...20, using: &generator.rng) : nil
                let collapse = Bool.random(using: &generator.rng) ? generator.stringWithValue() : nil
                var members = ["\"token\":" + token.literal, "\"payload\":" + payload]
                if let priority { members.append("\"priority\":\(priority)") }
                if let collapse { members.append("\"collapseId\":" + collapse.literal) }
                members.shuffle(using: &generator.rng)
                let s = generator.space()
                items.append("{" + s + members.joined(separator: s + "," + s) + s + "}")
                expected.append((token.value, payload, priority, collapse?.value))
            }
            let id = Bool.random(using: &generator.rng) ? String(Int.random(in: -99...99_999, using: &generator.rng)) : generator.string()
            var members = ["\"id\":" + id, "\"op\":\"send\"", "\"notifications\":[" + items.joined(separator: ",") + "]"]
            if Bool.random(using: &generator.rng) { members.append("\"note\":" + generator.value(depth: 1)) }
            members.shuffle(using: &generator.rng)
            let line = Array(("{" + members.joined(separator: ",") + "}").utf8)

            let request = line.withUnsafeBytes { RequestScanner.scan($0, maxBatchSize: maxBatchSize) }
            guard case .send(let idRange, let scanned) = request else {
                fuzzFailure("a generated request did not scan as a send: \(request)", seed: seed, index: index, input: line)
                continue
            }
            XCTAssertEqual(String(decoding: line[idRange], as: UTF8.self), id)
            XCTAssertEqual(scanned.count, expected.count)
            for (item, want) in zip(scanned, expected) {
                guard item.problem == nil, let payload = item.payload?.range else {
                    fuzzFailure("item rejected: \(item.problem ?? "no payload")", seed: seed, index: index, input: line)
                    continue
                }
                XCTAssertEqual(item.token?.string, want.token)
                XCTAssertEqual(String(decoding: line[payload], as: UTF8.self), want.payload)
                XCTAssertEqual(item.priority, want.priority)
                XCTAssertEqual(item.collapseID, want.collapse)
            }
        }
    }

    /// Checks what any scan result must satisfy and names the outcome.
    private func check(_ request: ScannedRequest, input: [UInt8], seed: UInt64, index: Int) -> String {
        func inside(_ range: Range<Int>?) -> Bool {
            guard let range else { return true }
            return range.lowerBound >= 0 && range.upperBound <= input.count && !range.isEmpty
        }
        switch request {
        case .send(let id, let items):
            if !inside(id) { fuzzFailure("id range \(id) outside the line", seed: seed, index: index, input: input) }
            if items.count > maxBatchSize { fuzzFailure("batch bound ignored", seed: seed, index: index, input: input) }
            for item in items {
                guard let payload = item.payload?.range else {
                    if item.problem == nil { fuzzFailure("an item with no payload and no problem", seed: seed, index: index, input: input) }
                    continue
                }
                if !inside(payload) || input[payload.lowerBound] != UInt8(ascii: "{") || input[payload.upperBound - 1] != UInt8(ascii: "}") {
                    fuzzFailure("payload range \(payload) is not an object in the line", seed: seed, index: index, input: input)
                }
                if item.problem == nil && item.token == nil {
                    fuzzFailure("an item with no token and no problem", seed: seed, index: index, input: input)
                }
            }
            return "send"
        case .ping(let id), .stats(let id):
            if !inside(id) { fuzzFailure("id range outside the line", seed: seed, index: index, input: input) }
            return "other"
        case .other(let id, _, _):
            // Any other op name, "" included, goes to the extension table (absent there: UnknownOp).
            if !inside(id) { fuzzFailure("id range outside the line", seed: seed, index: index, input: input) }
            return "extension"
        case .failure(let id, let code, let message):
            if !inside(id) { fuzzFailure("id range outside the line", seed: seed, index: index, input: input) }
            if message.isEmpty { fuzzFailure("an error without a message", seed: seed, index: index, input: input) }
            return code.rawValue
        }
    }

    /// The scanner calls a line invalid JSON exactly when Foundation's parser does.
    private func checkAgainstFoundation(_ request: ScannedRequest, input: [UInt8], seed: UInt64, index: Int) {
        var scannerSaysInvalid = false
        if case .failure(_, .invalidJSON, _) = request { scannerSaysInvalid = true }
        let foundationSaysValid = (try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])) != nil
        if scannerSaysInvalid == foundationSaysValid && !foundationDiffersFromTheRFC(input) {
            fuzzFailure(
                "scanner says \(scannerSaysInvalid ? "invalid" : "valid"), Foundation says \(foundationSaysValid ? "valid" : "invalid")",
                seed: seed, index: index, input: input)
        }
    }
}
