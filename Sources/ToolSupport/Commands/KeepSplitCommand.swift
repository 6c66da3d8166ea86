import Foundation
import SwiftGGUF

/// `gguf-quantize --keep-split SPLIT-00001-of-0000N.gguf OUT.gguf TYPE`: the output split like the
/// input (`Quantization.runKeepingSplit`), as llama-quantize --keep-split writes it.
extension QuantizeCommand {
    static func runKeepingSplit(_ request: QuantizationRequest, dryRun: Bool, events: @escaping (QuantizationEvent) -> Void,
                                console: any Console) throws {
        if dryRun {
            let (summary, outputs) = try Quantization.planKeepingSplit(request, events: events)
            console.out("output: " + outputs.joined(separator: ", ") + "\n")
            console.out(planTable(summary))
            if summary.needsImportance {
                console.err("gguf-quantize: WARNING: dry run completed successfully, but actually completing this quantization will require an imatrix!")
            }
            return
        }
        let (report, outputs) = try Quantization.runKeepingSplit(request, events: events)
        for p in outputs { console.err("gguf-quantize: wrote \(p)\n") }
        console.out(summaryText(report.summary, seconds: report.quantizeSeconds))
    }
}
