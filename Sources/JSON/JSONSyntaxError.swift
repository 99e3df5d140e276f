/// Where and why a byte sequence is not the JSON that was expected.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Offset of the offending byte from the start of the scanned bytes (the length for a premature end).
    public var offset: Int
    /// What is wrong, e.g. `"invalid escape in string"`.
    public var problem: String

    /// Creates an error.
    public init(offset: Int, problem: String) {
        self.offset = offset
        self.problem = problem
    }

    /// `"<problem> at byte <offset>"`.
    public var description: String {
        "\(self.problem) at byte \(self.offset)"
    }
}
