import JSON
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
        var writer = JSONWriter(members: buffer)
        buffer = ByteBuffer()  // the writer holds the only reference: no copy on its first write
        writer.beginObject()
        writer.beginObject("aps")
        writer.int("timestamp", timestamp)
        writer.string("event", self.event.rawValue)
        if let contentState = self.contentState {
            writer.raw("content-state", contentState.trimmingJSONWhitespace())
        }
        if let attributesType = self.attributesType {
            writer.string("attributes-type", attributesType)
        }
        if let attributes = self.attributes {
            writer.raw("attributes", attributes.trimmingJSONWhitespace())
        }
        if let alert = self.alert {
            writer.beginObject("alert")
            if let title = alert.title { Self.write("title", title, into: &writer) }
            if let body = alert.body { Self.write("body", body, into: &writer) }
            if let sound = alert.sound { writer.string("sound", sound) }
            writer.endObject()
        }
        if let staleDate = self.staleDate {
            writer.int("stale-date", staleDate)
        }
        if let dismissalDate = self.dismissalDate {
            writer.int("dismissal-date", dismissalDate)
        }
        if let relevanceScore = self.relevanceScore {
            writer.raw("relevance-score", ByteBuffer(string: Self.jsonNumber(relevanceScore)))
        }
        if self.inputPushToken {
            writer.int("input-push-token", 1)
        }
        if let inputPushChannel = self.inputPushChannel {
            writer.string("input-push-channel", inputPushChannel)
        }
        writer.endObject()
        writer.endObject()
        buffer = writer.buffer
    }

    private static func write(_ name: StaticString, _ text: LiveActivityAlert.Text, into writer: inout JSONWriter) {
        switch text {
        case .plain(let string):
            writer.string(name, string)
        case .localized(let key, let arguments):
            writer.beginObject(name)
            writer.string("loc-key", key)
            if !arguments.isEmpty {
                writer.beginArray("loc-args")
                for argument in arguments { writer.element(argument) }
                writer.endArray()
            }
            writer.endObject()
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
