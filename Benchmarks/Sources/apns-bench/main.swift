// apns-bench: pushes per second through the engine (HTTP2ConnectionPool) or the APNs client (APNsClient),
// against any HTTP/2 server over TLS. Prints one JSON object with the figures.
//
//   apns-bench --mode engine|client --host 127.0.0.1 --port 8443 --ca certs/test-ca.pem
//              --connections 1 --requests 200000 --payload 210 --window 4000
import APNs
import APNsCore
import Foundation
import HTTP2Engine
import NIOCore
import NIOPosix

let options: BenchOptions
do {
    options = try BenchOptions.parse(CommandLine.arguments)
} catch {
    if let message = error.message { FileHandle.standardError.write(Data("apns-bench: \(message)\n".utf8)) }
    FileHandle.standardError.write(Data((BenchOptions.usage + "\n").utf8))
    exit(error.message == nil ? 0 : 2)
}
let payload = ByteBuffer(string: BenchOptions.payload(size: options.payloadSize))
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
let recorder = LatencyRecorder(capacity: options.requests)
let startUsage = ResourceUsage.now()
let report: BenchReport

switch options.mode {
case .engine:
    report = try await EngineBench(options: options, payload: payload, group: group, recorder: recorder).run()
case .client:
    report = try await ClientBench(options: options, payload: payload, group: group, recorder: recorder).run()
}
try await group.shutdownGracefully()
print(report.json(usage: ResourceUsage.now() - startUsage, latencies: recorder))
