#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings applied when `serve` starts, so that memory freed after a burst goes back to the system.
///
/// glibc serves allocations of at least its *mmap threshold* with their own mapping, returned to the system on
/// `free`; smaller ones come from the heap, which gives memory back only from its top (above the *trim
/// threshold*). The threshold starts at 128 KiB but is dynamic: each time a mapped block is freed, the threshold
/// rises to its size (up to 32 MiB). The gateway's large buffers (request lines of 500 notifications of 4 KiB are
/// 2 MiB; their reply buffers) then come from the heap, and after a burst the heap stays resident, fragmented by
/// the small allocations between them. Setting the threshold fixes it at 128 KiB (which also stops the dynamic
/// trim threshold from following it): buffers of 128 KiB and more are mapped and unmapped each time.
///
/// The trade-off (docs/operations.md, docs/benchmarks.md): lower and flatter resident memory against more
/// `mmap`/`munmap` calls and page faults, which cost CPU when large requests are frequent.
///
/// Environment: `APNS_GATEWAY_MALLOC_TUNING=off` keeps glibc's defaults; `APNS_GATEWAY_MALLOC_MMAP_THRESHOLD`
/// and `APNS_GATEWAY_MALLOC_TRIM_THRESHOLD` set either threshold in bytes.
struct MallocTuning: Equatable {
    /// `M_MMAP_THRESHOLD` in bytes; nil: glibc's dynamic threshold.
    var mmapThreshold: Int?
    /// `M_TRIM_THRESHOLD` in bytes; nil: glibc's.
    var trimThreshold: Int?

    static let defaultMmapThreshold = 128 * 1024
    /// glibc's own bounds on the mmap threshold (at most `HEAP_MAX_SIZE / 2`, 32 MiB on 64-bit systems).
    static let mmapThresholdRange = 4096...(32 * 1024 * 1024)
    static let trimThresholdRange = 4096...Int(Int32.max)

    /// The default: a fixed mmap threshold of 128 KiB, glibc's trim threshold.
    static let standard = MallocTuning(mmapThreshold: defaultMmapThreshold, trimThreshold: nil)
    /// glibc's defaults, untouched.
    static let off = MallocTuning(mmapThreshold: nil, trimThreshold: nil)

    /// The settings the environment asks for; throws on a value that is not a number within range.
    static func fromEnvironment(_ environment: [String: String]) throws -> MallocTuning {
        if let switchValue = environment["APNS_GATEWAY_MALLOC_TUNING"] {
            switch switchValue.lowercased() {
            case "off", "0", "false", "no": return .off
            case "on", "1", "true", "yes", "": break
            default:
                throw GatewayFailure("APNS_GATEWAY_MALLOC_TUNING must be \"on\" or \"off\"; got \"\(switchValue)\"")
            }
        }
        var tuning = MallocTuning.standard
        if let text = environment["APNS_GATEWAY_MALLOC_MMAP_THRESHOLD"] {
            tuning.mmapThreshold = try bytes(text, name: "APNS_GATEWAY_MALLOC_MMAP_THRESHOLD", in: mmapThresholdRange)
        }
        if let text = environment["APNS_GATEWAY_MALLOC_TRIM_THRESHOLD"] {
            tuning.trimThreshold = try bytes(text, name: "APNS_GATEWAY_MALLOC_TRIM_THRESHOLD", in: trimThresholdRange)
        }
        return tuning
    }

    private static func bytes(_ text: String, name: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw GatewayFailure("\(name) must be a number of bytes within \(range.lowerBound)...\(range.upperBound); got \"\(text)\"")
        }
        return value
    }

    /// Applies the settings to this process's allocator; returns false if glibc refused one (or is not the C
    /// library).
    @discardableResult
    func apply() -> Bool {
        #if canImport(Glibc)
        // <malloc.h> is not in Swift's Glibc module: glibc's mallopt, found at run time.
        // M_TRIM_THRESHOLD is -1, M_MMAP_THRESHOLD -3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return self == .off }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        var applied = true
        if let mmapThreshold { applied = mallopt(-3, Int32(mmapThreshold)) == 1 && applied }
        if let trimThreshold { applied = mallopt(-1, Int32(trimThreshold)) == 1 && applied }
        return applied
        #else
        return self == .off
        #endif
    }

    /// For the start-up log line.
    var description: String {
        guard self != .off else { return "glibc defaults" }
        return "mmap threshold \(mmapThreshold.map(String.init) ?? "dynamic"), trim threshold \(trimThreshold.map(String.init) ?? "default")"
    }
}
