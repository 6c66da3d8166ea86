import Foundation
import Calibration
import Convert
import GGUF
import Inference
import Quants

extension OnePassQuantization {
    /// AWQ calibration of a one-pass run, on the checkpoint directly: the f32 model the plan
    /// describes is built in memory (`CheckpointImage`, bf16/f16 matrices at their width) and calibrated exactly as `gguf-quantize
    /// --awq` calibrates the f32 file (`Quantization.calibrate`: same plan, vocabulary, engine and
    /// weights, hence the same scales), then freed; `job` receives the transform, metadata (and
    /// importances). The architecture and the calibration text are checked first, before the
    /// weights are converted.
    static func calibrate(_ source: ConvertedModel, _ awq: AWQConfiguration, job: inout QuantizeJob, threads: Int,
                          events: ((QuantizationEvent) -> Void)?) throws(SwiftGGUFError) {
        let header = try CheckpointImage.header(of: source)
        try wrapped { try AWQCalibrator.checkSupported(header) }
        let vocab = try wrapped { try GGUFVocabulary(file: header) }
        _ = try wrapped {
            try CalibrationSet(textFile: awq.calibrationText, vocabulary: vocab, samples: awq.samples, sequenceLength: awq.sequenceLength)
        }
        let bytes = source.tensors.reduce(0) { $0 + (source.exactStorage($1).byteCount(shape: $1.shape) ?? $1.byteCount) }
        events?(.message("awq: converting '\(source.path)' to f32 in memory (\(source.tensors.count) tensors, "
                         + String(format: "%.1f MiB", Double(bytes) / 1_048_576)
                         + " with bf16/f16 matrices kept at their width; no file written)\n"))
        let image = try CheckpointImage.build(from: source)
        try Quantization.calibrate(image, awq, job: &job, threads: threads, events: events)
    }
}
