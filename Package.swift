// swift-tools-version: 6.2
//
// swift-gguf: Hugging Face checkpoints to GGUF, llama.cpp's quantizers, perplexity.
// No third-party packages: Foundation, Dispatch, Glibc and the standard library only.
//
// Products: the `SwiftGGUF` library (one module to import: the front door `Conversion`,
// `Quantization`, `GGUFModel` and the building blocks it re-exports) and the seven executables.
//
// Build flavour: like llama.cpp (GGML_NATIVE=ON) the default build targets the host CPU
// (`-target-cpu native`: AVX2/FMA/F16C or AVX-512 on the machines here, which roughly doubles
// several kernels). Set SWIFT_GGUF_PORTABLE=1 in the environment for a baseline x86-64 / arm64
// build that runs on any CPU of the architecture; results are identical, only slower.
//
// Tools-version 6.2 matters: from SwiftPM 6.2 on, a package that depends on this one by version
// (`.package(url:from:)`) accepts the `-target-cpu native` unsafe flag (SwiftPM 6.1 and earlier
// refuse "contains unsafe build flags"); checked with Swift 6.3.1, see README "Using the library".
import PackageDescription
import Foundation

let portable = ProcessInfo.processInfo.environment["SWIFT_GGUF_PORTABLE"].map { $0 != "0" && !$0.isEmpty } ?? false

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
] + (portable ? [] : [.unsafeFlags(["-target-cpu", "native"])])

// Native builds on a CPU with AVX-512 VNNI: the IntDot module reaches `vpdpbusd` through an LLVM
// builtin (needs `-parse-stdlib`); elsewhere it is a plain Swift loop and the float kernels run.
let vnni = !portable
    && ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512_vnni") ?? false)
let intDotSettings: [SwiftSetting] = settings + (vnni ? [.define("GGUF_VNNI"), .unsafeFlags(["-parse-stdlib"])] : [])

func lib(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: deps, swiftSettings: settings)
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
        .library(name: "SwiftGGUF", targets: ["SwiftGGUF"]),
        .executable(name: "hf2gguf", targets: ["hf2gguf"]),
        .executable(name: "gguf-quantize", targets: ["gguf-quantize"]),
        .executable(name: "gguf-ppl", targets: ["gguf-ppl"]),
        .executable(name: "gguf-tokenize", targets: ["gguf-tokenize"]),
        .executable(name: "gguf-dump", targets: ["gguf-dump"]),
        .executable(name: "gguf-imatrix", targets: ["gguf-imatrix"]),
        .executable(name: "gguf-split", targets: ["gguf-split"]),
        .executable(name: "gguf-sweep", targets: ["gguf-sweep"]),
    ],
    targets: [
        // Format: values, the ggml type table, keys and tensor names, reader, writer.
        lib("GGUF", []),
        // One description per architecture: converter mapping, engine wiring, AWQ groups, type-plan quirks.
        lib("Architectures", ["GGUF"]),
        // Block kernels (quantize / dequantize / dot), fp16/bf16, llama-quantize type plans.
        lib("Quants", ["GGUF", "Architectures", "IntDot"]),
        // The integer dot-product instruction (vpdpbusd) of the quantized kernels, where the CPU has it.
        .target(name: "IntDot", dependencies: [], swiftSettings: intDotSettings),
        // Hugging Face side: JSON, safetensors, config.json, tokenizer.json, tokenizer.model.
        lib("HFModel", ["GGUF"]),
        // GGUF tokenizer and the CPU forward pass.
        lib("Inference", ["GGUF", "Architectures", "Quants"]),
        // HF folder -> GGUF.
        lib("Convert", ["GGUF", "Architectures", "Quants", "HFModel"]),
        // AWQ (and importance) calibration.
        lib("Calibration", ["GGUF", "Architectures", "Quants", "Inference"]),
        // Perplexity, KL-divergence, importance matrices.
        lib("Evaluation", ["GGUF", "Quants", "Inference"]),
        // The front door: one module to import, a small API over the libraries above.
        lib("SwiftGGUF", ["GGUF", "Architectures", "Quants", "HFModel", "Inference", "Convert", "Calibration", "Evaluation"]),
        // Flags, progress lines and the commands behind the executables (not part of the library product).
        lib("ToolSupport", ["SwiftGGUF"]),
        exe("hf2gguf"),
        exe("gguf-quantize"),
        exe("gguf-ppl"),
        exe("gguf-tokenize"),
        exe("gguf-dump"),
        exe("gguf-imatrix"),
        exe("gguf-split"),
        exe("gguf-sweep"),

        .target(name: "TestSupport", dependencies: ["GGUF"], path: "Tests/TestSupport", swiftSettings: settings),
        tests("GGUFTests", ["GGUF"]),
        tests("ArchitecturesTests", ["Architectures"]),
        tests("QuantsTests", ["Quants", "IntDot"]),
        tests("HFModelTests", ["HFModel"]),
        tests("InferenceTests", ["Inference"]),
        tests("ConvertTests", ["Convert", "HFModel"]),
        tests("CommandsTests", ["ToolSupport"]),
        tests("CalibrationTests", ["Architectures", "Calibration", "Quants", "Inference"]),
        tests("SwiftGGUFTests", ["SwiftGGUF"]),
    ],
    swiftLanguageModes: [.v6]
)
