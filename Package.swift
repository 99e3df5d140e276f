// swift-tools-version:6.0
import PackageDescription

/// The modules on the path of every notification. In release builds they skip the run-time exclusivity checks
/// (`swift_beginAccess` on every access to a class's stored property): the checks stay on in debug builds, where
/// the test suite runs, and the hot path keeps its state behind locks or on one event loop.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "apns-gateway",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HTTP2Engine", targets: ["HTTP2Engine"]),
        .library(name: "JSON", targets: ["JSON"]),
        .library(name: "APNsCore", targets: ["APNsCore"]),
        .library(name: "APNs", targets: ["APNs"]),
        .library(name: "MockAPNs", targets: ["MockAPNs"]),
        .executable(name: "apns-mock", targets: ["apns-mock"]),
        .executable(name: "latency-proxy", targets: ["latency-proxy"]),
        .library(name: "Intake", targets: ["Intake"]),
        .library(name: "APNsGatewayClient", targets: ["APNsGatewayClient"]),
        .library(name: "LiveActivity", targets: ["LiveActivity"]),
        .library(name: "LiveActivityPostgres", targets: ["LiveActivityPostgres"]),
        .library(name: "LiveActivityService", targets: ["LiveActivityService"]),
        .library(name: "Observability", targets: ["Observability"]),
        .executable(name: "apns-gateway", targets: ["apns-gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // C libraries from the system (apt: libnghttp2-dev, libssl-dev, pkg-config).
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"]), .brew(["nghttp2"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .target(name: "CAPNSShims", dependencies: ["CNGHTTP2", "COpenSSL"]),
        // SQLite from the system (apt: libsqlite3-dev) for the Live Activity registry.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),

        // The HTTP/2 client engine: OpenSSL over memory BIOs and nghttp2, driven by SwiftNIO.
        .target(
            name: "HTTP2Engine",
            dependencies: [
                "CNGHTTP2", "COpenSSL", "CAPNSShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        // The JSON scanner's string-content run, sixteen bytes at a time (SSE2; plain C elsewhere).
        .target(name: "CJSONScan"),
        // JSON without I/O: the one validating scanner (byte ranges, typed member access) and the one writer.
        .target(
            name: "JSON", dependencies: ["CJSONScan", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath),
        // APNs models, validation, provider tokens and retry policy: no I/O.
        .target(
            name: "APNsCore",
            dependencies: [
                "JSON",
                "CJSONScan",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPath
        ),
        // The APNs client: APNsCore over the engine's connection pool.
        .target(
            name: "APNs",
            dependencies: [
                "APNsCore", "HTTP2Engine", "JSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        // A TLS + HTTP/2 APNs look-alike on an independent stack (swift-nio-http2, swift-nio-ssl).
        .target(
            name: "MockAPNs",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "apns-mock",
            dependencies: [
                "MockAPNs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // A TCP proxy that delays every byte by half a round trip each way (Benchmarks/latency.sh).
        .executableTarget(
            name: "latency-proxy",
            dependencies: [
                "MockAPNs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // The seam between the intake and the ops it does not handle itself: a request's decoded members in,
        // a reply's members out.
        .target(
            name: "IntakeOps",
            dependencies: ["JSON", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // The NDJSON intake: framing, request scanning, ops, replies; on a Unix socket and, authenticated, over
        // TCP with TLS (swift-nio-ssl).
        .target(
            name: "Intake",
            dependencies: [
                "APNs", "APNsCore", "JSON", "IntakeOps",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        // Live Activities: payload builder (no I/O) and the durable token and scheduled-end registry.
        .target(
            name: "LiveActivity",
            dependencies: [
                "APNsCore", "JSON", "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The Live Activity registry on PostgreSQL (postgres-nio), for a fleet of gateways sharing one store.
        .target(
            name: "LiveActivityPostgres",
            dependencies: [
                "LiveActivity", "APNsCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Live Activity ops of the intake: registration, start/update/end fan-out, scheduled ends.
        .target(
            name: "LiveActivityService",
            dependencies: [
                "APNs", "APNsCore", "LiveActivity", "JSON", "IntakeOps",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Prometheus metrics, health endpoints and structured log handlers for the daemon.
        .target(
            name: "Observability",
            dependencies: [
                "Intake", "APNs", "APNsCore", "HTTP2Engine", "LiveActivityService",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // A Swift client for the intake socket.
        .target(
            name: "APNsGatewayClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The daemon and its tools: serve, send, token, demo-config.
        .executableTarget(
            name: "apns-gateway",
            dependencies: [
                "Intake", "IntakeOps", "JSON", "APNs", "APNsCore", "APNsGatewayClient", "HTTP2Engine", "LiveActivity",
                "LiveActivityPostgres", "LiveActivityService",
                "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // What several test targets share (not a test target itself).
        .target(name: "GatewayTestSupport", path: "Tests/GatewayTestSupport"),
        .testTarget(name: "JSONTests", dependencies: ["JSON", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "APNsCoreTests",
            dependencies: ["APNsCore", "JSON", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        // Mutation and generation fuzzing of the parsers that read untrusted bytes (seed corpus in Corpus/).
        .testTarget(
            name: "FuzzTests",
            dependencies: ["Intake", "APNsCore", "JSON", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Corpus"]
        ),
        .testTarget(
            name: "HTTP2EngineTests",
            dependencies: ["HTTP2Engine", "CAPNSShims", "GatewayTestSupport", .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        .testTarget(
            name: "MockAPNsTests",
            dependencies: [
                "MockAPNs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LiveActivityTests",
            dependencies: [
                "LiveActivity", "LiveActivityPostgres", "APNsCore", "JSON", "GatewayTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The daemon's configuration: defaults and bounds come from the components, demo-config matches config/local.json.
        .testTarget(
            name: "GatewayConfigTests",
            dependencies: [
                "apns-gateway", "APNs", "APNsCore", "HTTP2Engine", "Intake", "LiveActivityService",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "IntegrationTests", dependencies: ["APNs", "APNsCore", "HTTP2Engine", "MockAPNs", "GatewayTestSupport"]),
        .testTarget(
            name: "IntakeTests",
            dependencies: [
                "Intake", "APNsGatewayClient", "APNs", "APNsCore", "MockAPNs", "Observability", "HTTP2Engine", "GatewayTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LiveActivityServiceTests",
            dependencies: [
                "LiveActivityService", "LiveActivity", "Intake", "IntakeOps", "JSON", "APNs", "APNsCore", "MockAPNs", "APNsGatewayClient", "GatewayTestSupport",
                "Observability",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
