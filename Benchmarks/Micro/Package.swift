// swift-tools-version:6.1
// Micro-benchmarks (time and malloc counts) of the per-push hot paths, with ordo-one/benchmark.
//
//   swift package --package-path Benchmarks/Micro benchmark
//
// A package of its own so that neither the project nor the end-to-end benchmarks pull in the benchmark
// framework. It depends on the project through its path.
import PackageDescription

let package = Package(
    name: "apns-gateway-micro-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "apns-gateway", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "APNsMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "APNs", package: "apns-gateway"),
                .product(name: "APNsCore", package: "apns-gateway"),
                .product(name: "HTTP2Engine", package: "apns-gateway"),
                .product(name: "Intake", package: "apns-gateway"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/APNsMicro",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
