// swift-tools-version:6.0
// Benchmarks live in their own package so that users' builds never pull them in.
import PackageDescription

let package = Package(
    name: "apns-gateway-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "apns-gateway", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "apns-bench",
            dependencies: [
                .product(name: "HTTP2Engine", package: "apns-gateway"),
                .product(name: "APNs", package: "apns-gateway"),
                .product(name: "APNsCore", package: "apns-gateway"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
