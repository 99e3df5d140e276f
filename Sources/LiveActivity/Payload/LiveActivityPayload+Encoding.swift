import NIOCore

extension LiveActivityPayload {
    /// Validates the payload and encodes it as compact JSON in the documented key order.
    ///
    /// - Parameter now: epoch seconds written as `timestamp` when ``timestamp`` is `nil` (the
    ///   caller's clock, so tests control it).
    /// - Returns: the payload bytes, at most ``maxSize``.
    /// - Throws: the first rule broken (see ``validate()``), or
    ///   ``LiveActivityPayloadError/payloadTooLarge(size:limit:)``.
    public func encode(now: Int64) throws(LiveActivityPayloadError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: self.estimatedSize)
        try self.encode(now: now, into: &buffer)
        return buffer
    }

    /// Validates the payload and appends its JSON to `buffer`; on failure `buffer` is left as it
    /// was.
    public func encode(now: Int64, into buffer: inout ByteBuffer) throws(LiveActivityPayloadError) {
        if self.timestamp == nil && now < 0 {
            throw .badDate(field: "timestamp", value: String(now))
        }
        try self.validate()
        let start = buffer.writerIndex
        self.write(timestamp: self.timestamp ?? now, into: &buffer)
        let size = buffer.writerIndex - start
        if size > Self.maxSize {
            buffer.moveWriterIndex(to: start)
            throw .payloadTooLarge(size: size, limit: Self.maxSize)
        }
    }

    private var estimatedSize: Int {
        128 + (self.contentState?.readableBytes ?? 0) + (self.attributes?.readableBytes ?? 0)
    }

    private func write(timestamp: Int64, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"aps\":{")
        var first = true
        JSONOutput.writeKey("timestamp", first: &first, into: &buffer)
        JSONOutput.writeInteger(timestamp, into: &buffer)
        JSONOutput.writeKey("event", first: &first, into: &buffer)
        JSONOutput.writeString(self.event.rawValue, into: &buffer)
        if let contentState = self.contentState {
            JSONOutput.writeKey("content-state", first: &first, into: &buffer)
            var raw = JSONOutput.trimmingWhitespace(contentState)
            buffer.writeBuffer(&raw)
        }
        if let attributesType = self.attributesType {
            JSONOutput.writeKey("attributes-type", first: &first, into: &buffer)
            JSONOutput.writeString(attributesType, into: &buffer)
        }
        if let attributes = self.attributes {
            JSONOutput.writeKey("attributes", first: &first, into: &buffer)
            var raw = JSONOutput.trimmingWhitespace(attributes)
            buffer.writeBuffer(&raw)
        }
        if let alert = self.alert {
            JSONOutput.writeKey("alert", first: &first, into: &buffer)
            Self.write(alert, into: &buffer)
        }
        if let staleDate = self.staleDate {
            JSONOutput.writeKey("stale-date", first: &first, into: &buffer)
            JSONOutput.writeInteger(staleDate, into: &buffer)
        }
        if let dismissalDate = self.dismissalDate {
            JSONOutput.writeKey("dismissal-date", first: &first, into: &buffer)
            JSONOutput.writeInteger(dismissalDate, into: &buffer)
        }
        if let relevanceScore = self.relevanceScore {
            JSONOutput.writeKey("relevance-score", first: &first, into: &buffer)
            buffer.writeString(Self.jsonNumber(relevanceScore))
        }
        if self.inputPushToken {
            JSONOutput.writeKey("input-push-token", first: &first, into: &buffer)
            buffer.writeInteger(UInt8(ascii: "1"))
        }
        if let inputPushChannel = self.inputPushChannel {
            JSONOutput.writeKey("input-push-channel", first: &first, into: &buffer)
            JSONOutput.writeString(inputPushChannel, into: &buffer)
        }
        buffer.writeStaticString("}}")
    }

    private static func write(_ alert: LiveActivityAlert, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "{"))
        var first = true
        if let title = alert.title {
            JSONOutput.writeKey("title", first: &first, into: &buffer)
            write(title, into: &buffer)
        }
        if let body = alert.body {
            JSONOutput.writeKey("body", first: &first, into: &buffer)
            write(body, into: &buffer)
        }
        if let sound = alert.sound {
            JSONOutput.writeKey("sound", first: &first, into: &buffer)
            JSONOutput.writeString(sound, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    private static func write(_ text: LiveActivityAlert.Text, into buffer: inout ByteBuffer) {
        switch text {
        case .plain(let string):
            JSONOutput.writeString(string, into: &buffer)
        case .localized(let key, let arguments):
            buffer.writeInteger(UInt8(ascii: "{"))
            var first = true
            JSONOutput.writeKey("loc-key", first: &first, into: &buffer)
            JSONOutput.writeString(key, into: &buffer)
            if !arguments.isEmpty {
                JSONOutput.writeKey("loc-args", first: &first, into: &buffer)
                buffer.writeInteger(UInt8(ascii: "["))
                for (index, argument) in arguments.enumerated() {
                    if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                    JSONOutput.writeString(argument, into: &buffer)
                }
                buffer.writeInteger(UInt8(ascii: "]"))
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// A finite `Double` as a JSON number: whole values without a fraction (`75`), others in
    /// Swift's shortest round-tripping form (`0.5`, `1e-05`), which is valid JSON.
    static func jsonNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}
