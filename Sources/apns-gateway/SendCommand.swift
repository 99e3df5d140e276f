import APNsGatewayClient
import ArgumentParser
import Foundation

/// `apns-gateway send [--socket PATH] [FILE|-]`: sends notifications through a running gateway and prints
/// the results; exits 0 only if APNs accepted every one (status 200).
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send notifications through a running gateway and print the results.",
        discussion: """
            Input: one JSON object per line. A line with an "op" is sent as a whole request (its reply is printed \
            as is); any other line is one notification ({"token": ..., "payload": {...}, ...}), sent in batches, \
            and printed as one result line each, {"line": N, ...result}. Exit status: 0 when every notification \
            got status 200, 1 when any did not (or a request failed), 2 when the gateway could not be reached.
            """
    )

    @Option(help: "The intake socket (default: $APNS_GATEWAY_SOCKET_PATH, else run/apns-gateway.sock).")
    var socket: String?

    @Option(help: "Notifications per send request.")
    var batchSize = 1000

    @Argument(help: "Input file, or - for standard input.")
    var input: String = "-"

    private enum Piece {
        case notifications([(line: Int, text: String)])
        case request(line: Int, text: String)
    }

    func run() async throws {
        let path = socket ?? ProcessInfo.processInfo.environment["APNS_GATEWAY_SOCKET_PATH"] ?? "run/apns-gateway.sock"
        let text: String
        if input == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: input) else {
                throw ValidationError("cannot read \(input)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        var pieces: [Piece] = []
        var batch: [(Int, String)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if object?["op"] != nil {
                if !batch.isEmpty { pieces.append(.notifications(batch)); batch = [] }
                pieces.append(.request(line: index + 1, text: line))
            } else {
                batch.append((index + 1, line))
                if batch.count >= max(1, batchSize) { pieces.append(.notifications(batch)); batch = [] }
            }
        }
        if !batch.isEmpty { pieces.append(.notifications(batch)) }

        let client: GatewayClient
        do {
            client = try await GatewayClient.connect(path: path)
        } catch {
            FileHandle.standardError.write(Data("apns-gateway send: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let outputs = await withTaskGroup(of: (Int, [String], Bool).self) { group in
            for (index, piece) in pieces.enumerated() {
                group.addTask {
                    let (lines, ok) = await Self.execute(piece, on: client)
                    return (index, lines, ok)
                }
            }
            var collected: [(Int, [String], Bool)] = []
            for await output in group { collected.append(output) }
            return collected.sorted { $0.0 < $1.0 }
        }
        await client.close()
        var allAccepted = true
        for (_, lines, ok) in outputs {
            for line in lines { print(line) }
            allAccepted = allAccepted && ok
        }
        if !allAccepted { throw ExitCode(1) }
    }

    private static func execute(_ piece: Piece, on client: GatewayClient) async -> ([String], Bool) {
        switch piece {
        case .request(let line, let text):
            do {
                let reply = try await client.request(line: text)
                let ok = reply.error == nil && (reply.results?.allSatisfy(\.isSuccess) ?? true)
                return ([reply.line], ok)
            } catch {
                return (["{\"line\":\(line),\"error\":\(quoted("\(error)"))}"], false)
            }
        case .notifications(let items):
            do {
                let results = try await client.send(rawNotifications: items.map(\.text))
                let lines = zip(items, results).map { item, result in describe(result, line: item.line) }
                return (lines, results.allSatisfy(\.isSuccess))
            } catch {
                return (items.map { "{\"line\":\($0.line),\"error\":\(quoted("\(error)"))}" }, false)
            }
        }
    }

    private static func describe(_ result: GatewayResult, line: Int) -> String {
        var out = "{\"line\":\(line)"
        if let status = result.status { out += ",\"status\":\(status)" }
        if let reason = result.reason { out += ",\"reason\":" + quoted(reason) }
        if let apnsID = result.apnsID { out += ",\"apnsId\":" + quoted(apnsID) }
        if let timestamp = result.timestamp { out += ",\"timestamp\":\(timestamp)" }
        out += ",\"source\":" + quoted(result.source)
        if let detail = result.detail { out += ",\"detail\":" + quoted(detail) }
        return out + "}"
    }
}

/// A JSON string literal (for output lines).
func quoted(_ value: String) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.withoutEscapingSlashes]) else { return "\"\"" }
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}
