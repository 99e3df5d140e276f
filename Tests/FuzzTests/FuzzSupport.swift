import Foundation
import XCTest

/// A small, fast, seedable generator (SplitMix64), so that a failing input can be made again from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// How a fuzz run is set up: `FUZZ_ITERATIONS` (inputs per test; the default keeps `swift test` quick) and
/// `FUZZ_SEED` (to replay a failure: every failure message names the seed and the input's index). Without
/// `FUZZ_SEED` the seed is fixed, so that `swift test` checks the same inputs every time; `scripts/fuzz.sh`
/// picks a new one for each run.
enum FuzzSettings {
    static var iterations: Int {
        ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20_000
    }

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["FUZZ_SEED"].flatMap(UInt64.init) ?? 9_541_757_675_851_686_641
    }
}

/// The seed inputs kept in Tests/FuzzTests/Corpus/<folder>: every file is one input.
func corpus(_ folder: String) -> [[UInt8]] {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Corpus").appendingPathComponent(folder)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.sorted().compactMap { name in
        guard var bytes = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map(Array.init)
        else { return nil }
        while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return bytes
    }
}

/// Byte-level mutations that tend to find parser bugs: JSON-significant tokens, broken UTF-8 and escapes,
/// truncation, repetition and splicing.
struct Mutator {
    static let tokens: [[UInt8]] = [
        "{", "}", "[", "]", "\"", "\\", ":", ",", "-", "0", "-0", "1e309", "1.", ".5", "01", "true", "tru", "null",
        "\\u", "\\u12", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\x", " ", "\t", "\r", "\n", "\"id\"", "\"op\"",
        "\"send\"", "\"notifications\"", "\"payload\"", "\"token\"", "{\"a\":", "[[[[[[[[", "]]]]]]]]", "99999999999999999999",
    ].map { Array($0.utf8) } + [[0x00], [0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC0, 0x80], [0xED, 0xA0, 0x80]]

    var rng: SplitMix64

    mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !bytes.isEmpty:
                bytes[min(position, bytes.count - 1)] = UInt8.random(in: 0...255, using: &rng)
            case 1:
                bytes.insert(contentsOf: Self.tokens.randomElement(using: &rng)!, at: position)
            case 2 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &rng))
                if position < end { bytes.removeSubrange(position..<end) }
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &rng))
                if position < end { bytes.insert(contentsOf: bytes[position..<end], at: position) }
            case 4:
                bytes.removeSubrange(position..<bytes.count)
            case 5 where !other.isEmpty:
                let cut = Int.random(in: 0...other.count, using: &rng)
                bytes = Array(bytes[0..<position]) + other[cut...]
            default:
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: position)
            }
        }
        return bytes
    }
}

/// Random, valid JSON text of a bounded size: the values a generated request or payload carries.
struct JSONGenerator {
    var rng: SplitMix64

    mutating func object(depth: Int = 0) -> String {
        let count = Int.random(in: 0...(depth > 2 ? 2 : 4), using: &rng)
        let members = (0..<count).map { _ in string() + space() + ":" + space() + value(depth: depth + 1) }
        return "{" + space() + members.joined(separator: space() + "," + space()) + space() + "}"
    }

    mutating func value(depth: Int) -> String {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
        case 0: return string()
        case 1: return number()
        case 2: return ["true", "false", "null"].randomElement(using: &rng)!
        case 3: return string()
        case 4: return object(depth: depth)
        default:
            let count = Int.random(in: 0...3, using: &rng)
            return "[" + (0..<count).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
        }
    }

    mutating func number() -> String {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return String(Int64.random(in: -1_000_000...1_000_000, using: &rng))
        case 1: return String(Int.random(in: 0...9, using: &rng)) + "." + String(Int.random(in: 0...999, using: &rng))
        case 2: return "-" + String(Int.random(in: 1...9, using: &rng)) + "e" + String(Int.random(in: -20...20, using: &rng))
        default: return "0"
        }
    }

    /// A JSON string literal with escapes and non-ASCII text, and the text it stands for.
    mutating func stringWithValue() -> (literal: String, value: String) {
        var literal = "\""
        var value = ""
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: literal += "\\\""; value += "\""
            case 1: literal += "\\\\"; value += "\\"
            case 2: literal += "\\n"; value += "\n"
            case 3: literal += "\\u00e9"; value += "é"
            case 4: literal += "\\ud83d\\ude00"; value += "😀"
            case 5: literal += "ü"; value += "ü"
            case 6: literal += "\\/"; value += "/"
            default:
                let character = Character(UnicodeScalar(UInt8.random(in: 0x61...0x7A, using: &rng)))
                literal.append(character)
                value.append(character)
            }
        }
        return (literal + "\"", value)
    }

    mutating func string() -> String { stringWithValue().literal }

    mutating func space() -> String {
        ["", "", "", " ", "\t", " \r\n "].randomElement(using: &rng)!
    }
}

extension XCTestCase {
    /// Fails with the seed and index, and the input shown as text and cut to a readable length.
    func fuzzFailure(_ what: String, seed: UInt64, index: Int, input: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        let shown = String(decoding: input.prefix(400), as: UTF8.self)
        XCTFail("\(what) (FUZZ_SEED=\(seed), input #\(index)): \(shown)", file: file, line: line)
    }
}

/// Where Foundation's JSON parser and RFC 8259 part ways, so a differential check must not count them:
/// Foundation takes a trailing comma (`{"a":1,}`), and refuses a number too large for a `Double` (`1e400`),
/// which the RFC's grammar allows. Also nesting deeper than the project's scanners accept (64).
func foundationDiffersFromTheRFC(_ input: [UInt8]) -> Bool {
    var inString = false
    var escaped = false
    var depth = 0
    var number: [UInt8] = []
    func numberOverflows() -> Bool {
        defer { number.removeAll() }
        guard !number.isEmpty, let value = Double(String(decoding: number, as: UTF8.self)) else { return false }
        return value.isInfinite
    }
    for (index, byte) in input.enumerated() {
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            continue
        }
        if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "+-.eE".utf8.contains(byte) {
            number.append(byte)
            continue
        }
        if numberOverflows() { return true }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            if depth > 64 { return true }
        case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
        case UInt8(ascii: ","):
            let next = input[(index + 1)...].first { !" \t\r\n".utf8.contains($0) }
            if next == UInt8(ascii: "}") || next == UInt8(ascii: "]") { return true }
        default: break
        }
    }
    return numberOverflows()
}
