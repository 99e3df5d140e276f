import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2

/// What to do for one stream, decided for a whole read batch before anything is written.
enum MockStreamAction {
    case respond(streamID: HTTP2StreamID, verdict: MockVerdict, apnsID: String)
    case reset(streamID: HTTP2StreamID)
    case goaway(lastStreamID: HTTP2StreamID)
}

extension MockConnectionHandler {
    /// Validates and answers the requests completed in this read batch.
    ///
    /// The shared state is taken twice: once for the faults in force and the server-wide sequence
    /// numbers, once to publish records and counters. Both happen before the answers are flushed, so
    /// whoever sees an answer also finds it in ``MockAPNsServer/received`` and ``MockAPNsServer/stats``.
    func processCompleted(context: ChannelHandlerContext) {
        guard !self.completed.isEmpty else { return }
        let batch = self.completed
        self.completed.removeAll(keepingCapacity: true)
        guard !self.isStalled, !self.isClosing else { return }

        let (faults, firstSequence) = self.server.state.beginBatch(count: batch.count)
        let now = Int64(Date().timeIntervalSince1970)
        self.batchMilliseconds = self.server.recordFile == nil ? 0 : MockRecordFile.now()
        var actions: [MockStreamAction] = []
        actions.reserveCapacity(batch.count + 1)
        var abortAfterBatch = false

        for (offset, request) in batch.enumerated() {
            self.requestsReceived += 1
            let head = RequestHead(headers: request.headers)
            if self.goawayLastStreamID.map({ request.streamID > $0 }) == true {
                self.record(request, head: head, verdict: nil, apnsID: "", wasReset: false, outcome: "refused")
                continue
            }
            if abortAfterBatch || self.isStalled {
                self.record(request, head: head, verdict: nil, apnsID: "", wasReset: false, outcome: "lost")
                continue
            }
            self.lastDecidedStreamID = request.streamID
            if let stallAfter = faults.stallAfterStreams, self.requestsReceived > stallAfter,
               faults.stalls(connectionID: self.connectionID) {
                self.isStalled = true
                self.gate.stall()
                self.record(request, head: head, verdict: nil, apnsID: "", wasReset: false, outcome: "lost")
                continue
            }
            if let closeAfter = faults.closeAfterStreams, self.requestsReceived >= closeAfter {
                abortAfterBatch = true
                self.record(request, head: head, verdict: nil, apnsID: "", wasReset: false, outcome: "lost")
                continue
            }

            let sequence = firstSequence + offset
            let apnsID: String
            if let given = head.apnsID, UUIDText.isCanonical(given) {
                apnsID = UUIDText.lowercased(given)
            } else {
                apnsID = self.idGenerator.next()
            }
            if faults.resets(sequence: sequence) {
                actions.append(.reset(streamID: request.streamID))
                self.report.countReset()
                self.record(request, head: head, verdict: nil, apnsID: apnsID, wasReset: true)
            } else {
                var verdict: MockVerdict
                let isBroadcast = BroadcastValidator.handles(head.path)
                if let fault = faults.statusFault(sequence: sequence) {
                    verdict = .error(fault.status, fault.reason)
                    if isBroadcast { verdict.idHeader = "apns-request-id" }
                } else if isBroadcast {
                    verdict = self.server.broadcasts.verdict(
                        head: head, body: request.body, bodyLength: request.bodyLength, now: now, tokens: &self.tokens)
                } else {
                    verdict = self.server.validator.verdict(
                        head: head,
                        body: request.body,
                        bodyLength: request.bodyLength,
                        now: now,
                        tokens: &self.tokens
                    )
                    if let keyID = self.tokens.takeAcceptedKeyID() { self.report.countAccepted(keyID: keyID) }
                }
                actions.append(.respond(streamID: request.streamID, verdict: verdict, apnsID: apnsID))
                self.report.countResponse(status: verdict.status)
                self.record(request, head: head, verdict: verdict, apnsID: apnsID, wasReset: false)
            }
            self.requestsAnswered += 1
            if let goawayAfter = faults.goawayAfterStreams, self.goawayLastStreamID == nil,
                self.requestsAnswered >= goawayAfter
            {
                self.goawayLastStreamID = request.streamID
                actions.append(.goaway(lastStreamID: request.streamID))
                self.report.countGoaway()
                self.recordConnectionEvent("goaway")
            }
        }

        self.commitReport()

        if abortAfterBatch {
            self.perform(actions, context: context)
            self.flushIfNeeded(context)
            self.isClosing = true
            self.transport.abort()
        } else if let delay = faults.responseDelay, delay > .zero, !actions.isEmpty {
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                self.perform(actions, context: context)
                self.flushIfNeeded(context)
                self.closeIfDone(context: context)
            }
        } else {
            self.perform(actions, context: context)
            self.closeIfDone(context: context)
        }
    }

    /// Writes the frames for `actions` (the caller flushes).
    func perform(_ actions: [MockStreamAction], context: ChannelHandlerContext) {
        guard !self.isStalled else { return }
        // Writing a stream's last frame closes it at once, and the StreamClosedEvent arrives from
        // inside the write: don't let it close the connection before the rest is written.
        self.isWriting = true
        defer { self.isWriting = false }
        for action in actions {
            switch action {
            case .respond(let streamID, let verdict, let apnsID):
                self.writeResponse(streamID: streamID, verdict: verdict, apnsID: apnsID, context: context)
                if (200...299).contains(verdict.status) && !self.raisedStreamLimit {
                    // Like APNs: the first success lifts the one-stream limit.
                    self.raisedStreamLimit = true
                    let limit = self.server.authenticatedMaxConcurrentStreams
                    self.pendingStreamLimits.append(limit)
                    let settings = [HTTP2Setting(parameter: .maxConcurrentStreams, value: limit)]
                    self.write(context, HTTP2Frame(streamID: .rootStream, payload: .settings(.settings(settings))))
                }
            case .reset(let streamID):
                self.write(context, HTTP2Frame(streamID: streamID, payload: .rstStream(.internalError)))
            case .goaway(let lastStreamID):
                self.write(
                    context,
                    HTTP2Frame(
                        streamID: .rootStream,
                        payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil)
                    )
                )
            }
        }
    }

    private func writeResponse(
        streamID: HTTP2StreamID,
        verdict: MockVerdict,
        apnsID: String,
        context: ChannelHandlerContext
    ) {
        var headers = HPACKHeaders()
        headers.reserveCapacity(2)
        headers.add(name: ":status", value: Self.statusText(verdict.status))
        headers.add(name: verdict.idHeader, value: apnsID, indexing: .nonIndexable)
        if let channelID = verdict.channelID {
            headers.add(name: "apns-channel-id", value: channelID, indexing: .nonIndexable)
        }
        guard let reason = verdict.reason else {
            guard let text = verdict.body else {
                self.write(context, HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers, endStream: true))))
                return
            }
            self.write(context, HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers))))
            var body = context.channel.allocator.buffer(capacity: text.utf8.count)
            body.writeString(text)
            self.write(context, HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
            return
        }
        self.write(context, HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers))))
        var body = context.channel.allocator.buffer(capacity: 64)
        body.writeStaticString("{\"reason\":\"")
        body.writeString(reason)
        if let timestamp = verdict.timestamp {
            body.writeStaticString("\",\"timestamp\":")
            body.writeString(String(timestamp))
            body.writeStaticString("}")
        } else {
            body.writeStaticString("\"}")
        }
        self.write(context, HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
    }

    static func statusText(_ status: Int) -> String {
        switch status {
        case 200: return "200"
        case 400: return "400"
        case 403: return "403"
        case 404: return "404"
        case 405: return "405"
        case 410: return "410"
        case 413: return "413"
        case 429: return "429"
        case 500: return "500"
        case 503: return "503"
        default: return String(status)
        }
    }

    /// Sends GOAWAY now (``MockAPNsServer/goAwayEverywhere()``): the streams decided so far are finished,
    /// later ones are refused, and the connection closes when the finished ones are written.
    func goAwayNow(context: ChannelHandlerContext) {
        guard self.goawayLastStreamID == nil, !self.isClosing, !self.isStalled else { return }
        let last = self.lastDecidedStreamID ?? 0
        self.goawayLastStreamID = last
        self.report.countGoaway()
        if self.server.recordFile != nil {
            self.batchMilliseconds = MockRecordFile.now()
            self.recordConnectionEvent("goaway")
        }
        self.commitReport()
        self.perform([.goaway(lastStreamID: last)], context: context)
        self.flushIfNeeded(context)
        self.closeIfDone(context: context)
    }

    /// Publishes the report to the shared state and its lines to the record file.
    func commitReport() {
        self.server.state.commit(&self.report, file: self.server.recordFile)
    }

    private func recordConnectionEvent(_ outcome: String) {
        guard self.server.recordFile != nil else { return }
        self.report.recordLine(
            milliseconds: self.batchMilliseconds, apnsID: "", outcome: outcome, connectionID: self.connectionID)
    }

    private func record(
        _ request: CompletedRequest,
        head: RequestHead,
        verdict: MockVerdict?,
        apnsID: String,
        wasReset: Bool,
        outcome: String? = nil
    ) {
        if self.server.recordFile != nil {
            let given = head.apnsID.flatMap { UUIDText.isCanonical($0) ? UUIDText.lowercased($0) : nil }
            let id = apnsID.isEmpty ? given ?? "" : apnsID
            let text = outcome ?? (wasReset ? "reset" : verdict.map { Self.statusText($0.status) } ?? "lost")
            self.report.recordLine(
                milliseconds: self.batchMilliseconds, apnsID: id, outcome: text, connectionID: self.connectionID,
                deviceToken: head.deviceToken)
        }
        guard self.server.recordRequests else { return }
        var body: [UInt8] = []
        if self.server.recordBodies, let buffer = request.body {
            body = Array(buffer.readableBytesView)
        }
        self.report.record(
            MockReceivedRequest(
                connectionID: self.connectionID,
                streamID: Int(request.streamID),
                method: head.method ?? "",
                path: head.path ?? "",
                deviceToken: head.deviceToken.map(String.init) ?? "",
                headers: RequestHead.recordedHeaders(request.headers),
                body: body,
                responseStatus: verdict?.status,
                reason: verdict?.reason,
                apnsID: apnsID,
                wasReset: wasReset
            )
        )
    }
}
