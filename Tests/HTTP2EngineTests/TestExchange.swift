import Foundation
import HTTP2Engine
import NIOConcurrencyHelpers
import NIOCore

/// An exchange that records its single result and counts completions (to catch double completion).
final class TestExchange: HTTP2Exchange {
    let deadline: NIODeadline
    let requestBody: ByteBuffer
    let path: String
    let authority: String
    private let state = NIOLockedValueBox<(results: [Result<HTTP2Response, HTTP2Error>], waiter: CheckedContinuation<Result<HTTP2Response, HTTP2Error>, Never>?)>(([], nil))
    private let onComplete: (@Sendable () -> Void)?

    init(path: String, authority: String, body: String = "{}", deadline: NIODeadline = .now() + .seconds(20), onComplete: (@Sendable () -> Void)? = nil) {
        self.path = path
        self.authority = authority
        self.requestBody = ByteBuffer(string: body)
        self.deadline = deadline
        self.onComplete = onComplete
    }

    func writeHeaders(into writer: inout HTTP2HeaderWriter) {
        writer.add(":method", "POST")
        writer.add(":scheme", "https")
        writer.add(":authority", authority)
        writer.add(":path", path)
        writer.add("content-type", "application/json")
    }

    func complete(_ result: Result<HTTP2Response, HTTP2Error>) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Result<HTTP2Response, HTTP2Error>, Never>? in
            state.results.append(result)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
        onComplete?()
    }

    var completions: Int { state.withLockedValue { $0.results.count } }
    var result: Result<HTTP2Response, HTTP2Error>? { state.withLockedValue { $0.results.first } }

    func wait() async -> Result<HTTP2Response, HTTP2Error> {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state -> Result<HTTP2Response, HTTP2Error>? in
                if let first = state.results.first { return first }
                state.waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// Counts down completions and resumes one waiter at zero.
final class Countdown: Sendable {
    private let state: NIOLockedValueBox<(remaining: Int, waiter: CheckedContinuation<Void, Never>?)>

    init(_ count: Int) {
        state = NIOLockedValueBox((count, nil))
    }

    func tick() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.remaining -= 1
            if state.remaining == 0 { defer { state.waiter = nil }; return state.waiter }
            return nil
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state -> Bool in
                if state.remaining <= 0 { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}
