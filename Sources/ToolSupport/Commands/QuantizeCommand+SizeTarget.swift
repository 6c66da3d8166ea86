import Foundation
import SwiftGGUF

/// `gguf-quantize --target-bpw B | --target-size S [--imatrix F | --awq CALIB.txt] IN OUT [nthreads]`:
/// per-tensor types chosen to fit a size at the least predicted loss (`Quantization.planSizeTarget`).
extension QuantizeCommand {
    static let sizeTargetOptions: [OptionSpec] = [
        .option("target-bpw", value: "B", "choose every tensor's type to fit B bits per weight (as the BPW printed) at the least "
                + "predicted loss; no TYPE argument: IN OUT [nthreads]"),
        .option("target-size", value: "S", "choose every tensor's type so the output file is at most S: bytes, or K/M/G/T "
                + "(powers of 1000), KiB/MiB/GiB/TiB (e.g. 3.2G); no TYPE argument"),
        .option("target-calibration", value: "TEXT", "size target: measure each tensor class's KL-divergence sensitivity on "
                + "this text (default: the --awq text; without either, importance-weighted error alone)"),
        .option("target-tokens", value: "N", "size target: calibration tokens per sensitivity pass (default 512)"),
        .option("target-groups", value: "N", "size target: layer groups with their own sensitivity per tensor role (default 3)"),
    ]

    /// The size target of the arguments, or nil without `--target-bpw` / `--target-size`.
    static func sizeTarget(_ a: ParsedArguments) throws(ToolError) -> SizeTarget? {
        let bpw = a.value("target-bpw"), size = a.value("target-size")
        if bpw == nil && size == nil {
            for o in ["target-calibration", "target-tokens", "target-groups"] where a.value(o) != nil {
                throw ToolError.usage("--\(o) needs --target-bpw or --target-size", command: spec.name)
            }
            return nil
        }
        if bpw != nil && size != nil {
            throw ToolError.usage("give one of --target-bpw and --target-size, not both", command: spec.name)
        }
        for f in ["pure", "leave-output-tensor"] where a.has(f) {
            throw ToolError.usage("--\(f) does not combine with a size target (the target chooses every type)", command: spec.name)
        }
        if let bpw {
            guard let v = Double(bpw), v.isFinite, v > 0 else {
                throw ToolError.usage("invalid --target-bpw '\(bpw)': expected a positive number of bits per weight, e.g. 4.5",
                                      command: spec.name)
            }
            return .bitsPerWeight(v)
        }
        do throws(QuantizeError) {
            return .fileSize(try SizeTarget.parseSize(size ?? ""))
        } catch {
            throw ToolError.usage("--target-size: " + error.message, command: spec.name)
        }
    }

    /// `IN OUT [nthreads]` with a size target: OUT (required) is taken from `pos`; a TYPE there is an error.
    static func targetOutput(_ pos: inout [String], target: SizeTarget) throws(ToolError) -> String {
        let flag = { if case .bitsPerWeight = target { return "--target-bpw" } else { return "--target-size" } }()
        guard let out = pos.first else {
            throw ToolError.usage("missing OUT.gguf: with \(flag) the arguments are IN OUT [nthreads]", command: spec.name)
        }
        // A number is the thread count (llama-quantize would also read it as an ftype number).
        for p in pos where Int(p) == nil && QuantOption.parse(p) != nil {
            throw ToolError.usage("\(flag) chooses the types itself: drop the quantization type '\(p)' "
                                  + "(the arguments are IN OUT [nthreads])", command: spec.name)
        }
        pos.removeFirst()
        return out
    }

    static func runSizeTarget(_ request: QuantizationRequest, target: SizeTarget, _ a: ParsedArguments, console: any Console,
                              events: @escaping (QuantizationEvent) -> Void) throws {
        var options = SizeTargetOptions(target: target)
        options.calibrationTokens = try a.int("target-tokens", default: 512, range: 1...1_048_576)
        options.layerGroups = try a.int("target-groups", default: 3, range: 1...4096)
        options.calibrationText = a.value("target-calibration") ?? a.value("awq")
        if a.has("dry-run") {
            let plan = try Quantization.planSizeTarget(request, options: options, events: events)
            console.out(sizeTargetTable(plan))
            return
        }
        let (plan, report) = try Quantization.runSizeTarget(request, options: options, events: events)
        console.out(sizeTargetTotals(plan) + summaryText(report.summary, seconds: report.quantizeSeconds))
    }

    /// One line per chosen tensor (type, size, predicted loss), then the totals.
    static func sizeTargetTable(_ p: SizeTargetPlan) -> String {
        var t = ""
        for (i, c) in p.choices.enumerated() {
            let dims = (c.shape + Array(repeating: 1, count: max(0, 4 - c.shape.count))).map { TextFormat.pad(String($0), left: 6) }
            t += "[" + TextFormat.pad(String(i + 1), left: 4) + "/" + TextFormat.pad(String(p.choices.count), left: 4) + "] "
            t += TextFormat.pad(c.name, right: 36) + " - [" + dims.joined(separator: ", ") + "], type = "
            t += TextFormat.pad(c.type.name, left: 6) + String(format: ", size = %8.3f MiB, loss = %.4g (%d candidates)\n",
                                                               Double(c.bytes) / 1048576, c.loss, c.candidateCount)
        }
        for s in p.sensitivities {
            t += "sensitivity " + TextFormat.pad(s.name, right: 16) + String(format: " %.4g\n", s.value)
        }
        return t + sizeTargetTotals(p)
    }

    static func sizeTargetTotals(_ p: SizeTargetPlan) -> String {
        var counts: [String: Int] = [:]
        for c in p.choices { counts[c.type.name, default: 0] += 1 }
        let mix = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        var t = "target      = \(p.target)\n"
        t += String(format: "plan        = %d bytes (%.2f MiB), %.4f BPW, predicted loss %.6g\n", p.fileBytes,
                    Double(p.fileBytes) / 1048576, p.bitsPerWeight, p.predictedLoss)
        t += "types       = \(mix)\n"
        return t
    }
}
