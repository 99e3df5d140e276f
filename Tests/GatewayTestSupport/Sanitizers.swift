#if canImport(Glibc)
import Glibc
#endif

/// What the test process runs under, found at run time: the sanitizers' runtimes export their entry
/// points, a plain build has none of them.
public enum Sanitizer {
    /// True under AddressSanitizer or ThreadSanitizer (`swift test --sanitize=…`).
    public static let isActive = has("__asan_init") || has("__tsan_init")

    /// How much longer a deadline that only guards against a hang gets: ThreadSanitizer makes the client,
    /// the mock and the gateway several times slower (10,000 notifications through the mock take some 40 s
    /// instead of 2), so such deadlines are multiplied by 5 under a sanitizer. Never applied to a bound a
    /// test asserts on.
    public static let deadlineFactor: Int64 = isActive ? 5 : 1

    /// `__sanitizer_get_current_allocated_bytes`: the heap bytes allocated and not yet freed, under a
    /// sanitizer; nil otherwise.
    public static let allocatedBytes: (@convention(c) () -> Int)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__sanitizer_get_current_allocated_bytes") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) () -> Int).self)
    }()

    private static func has(_ symbol: String) -> Bool {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), symbol) != nil
    }
}
