// swift-tools-version: 6.2
//
// A package that depends on swift-gguf by version, as any other package would: `tools/consumer/run.sh`
// makes a tagged git repository of the checkout and points SWIFT_GGUF_PACKAGE_URL at it.
import PackageDescription
import Foundation

let env = ProcessInfo.processInfo.environment
let url = env["SWIFT_GGUF_PACKAGE_URL"] ?? "file:///tmp/swift-gguf-package/swift-gguf"
let version = Version(env["SWIFT_GGUF_PACKAGE_VERSION"] ?? "0.2.0") ?? "0.2.0"

let package = Package(
    name: "gguf-consumer",
    dependencies: [.package(url: url, from: version)],
    targets: [
        .executableTarget(name: "gguf-consumer", dependencies: [.product(name: "SwiftGGUF", package: "swift-gguf")]),
    ]
)
