// swift-tools-version: 6.1
//
// swift-gguf: Hugging Face checkpoints to GGUF, llama.cpp's quantizers, perplexity.
// No third-party packages: Foundation, Dispatch, Glibc and the standard library only.
//
// Build flavour: like llama.cpp (GGML_NATIVE=ON) the default build targets the host CPU
// (`-target-cpu native`: AVX2/FMA/F16C on the machines here, which roughly doubles several
// kernels). Set SWIFT_GGUF_PORTABLE=1 in the environment for a baseline x86-64 / arm64 build
// that runs on any CPU of the architecture; results are identical, only slower.
import PackageDescription
import Foundation

let portable = ProcessInfo.processInfo.environment["SWIFT_GGUF_PORTABLE"].map { $0 != "0" && !$0.isEmpty } ?? false

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
] + (portable ? [] : [.unsafeFlags(["-target-cpu", "native"])])

// Release tests (`swift test -c release`, the README's test command) use `@testable import`, which
// needs the libraries compiled with -enable-testing; SwiftPM only adds it for debug builds.
let libSettings = settings + [.unsafeFlags(["-enable-testing"], .when(configuration: .release))]

func lib(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: deps, swiftSettings: libSettings)
}
func exe(_ name: String) -> Target {
    .executableTarget(name: name, dependencies: ["ToolSupport"], swiftSettings: settings)
}
func tests(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .testTarget(name: name, dependencies: deps + ["TestSupport"], swiftSettings: settings)
}

let package = Package(
    name: "swift-gguf",
    products: [
        .library(name: "SwiftGGUF", targets: ["GGUF", "Quants", "HFModel", "Inference", "Convert",
                                             "Calibration", "Evaluation", "ToolSupport"]),
        .executable(name: "hf2gguf", targets: ["hf2gguf"]),
        .executable(name: "gguf-quantize", targets: ["gguf-quantize"]),
        .executable(name: "gguf-ppl", targets: ["gguf-ppl"]),
        .executable(name: "gguf-tokenize", targets: ["gguf-tokenize"]),
        .executable(name: "gguf-dump", targets: ["gguf-dump"]),
        .executable(name: "gguf-imatrix", targets: ["gguf-imatrix"]),
    ],
    targets: [
        // Format: values, the ggml type table, keys and tensor names, reader, writer.
        lib("GGUF", []),
        // Block kernels (quantize / dequantize / dot), fp16/bf16, llama-quantize type plans.
        lib("Quants", ["GGUF"]),
        // Hugging Face side: JSON, safetensors, config.json, tokenizer.json, tokenizer.model.
        lib("HFModel", ["GGUF", "Quants"]),
        // GGUF tokenizer and the CPU forward pass.
        lib("Inference", ["GGUF", "Quants"]),
        // HF folder -> GGUF.
        lib("Convert", ["GGUF", "Quants", "HFModel"]),
        // AWQ (and importance) calibration.
        lib("Calibration", ["GGUF", "Quants", "Inference"]),
        // Perplexity and KL-divergence.
        lib("Evaluation", ["GGUF", "Quants", "Inference"]),
        // Flags, progress, errors and the commands behind the executables.
        lib("ToolSupport", ["GGUF", "Quants", "HFModel", "Inference", "Convert", "Calibration", "Evaluation"]),
        exe("hf2gguf"),
        exe("gguf-quantize"),
        exe("gguf-ppl"),
        exe("gguf-tokenize"),
        exe("gguf-dump"),
        exe("gguf-imatrix"),

        .target(name: "TestSupport", dependencies: ["GGUF"], path: "Tests/TestSupport", swiftSettings: settings),
        tests("GGUFTests", ["GGUF"]),
        tests("QuantsTests", ["Quants"]),
        tests("HFModelTests", ["HFModel"]),
        tests("InferenceTests", ["Inference"]),
        tests("ConvertTests", ["Convert", "HFModel"]),
        tests("CommandsTests", ["ToolSupport"]),
        tests("CalibrationTests", ["Calibration", "Quants", "Inference"]),
    ],
    swiftLanguageModes: [.v6]
)
