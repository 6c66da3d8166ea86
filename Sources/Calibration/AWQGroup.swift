import Architectures
import GGUF
import Inference

// The scaling groups themselves are part of each architecture's description
// (`ArchitectureSpec.awqGroups`); this file maps them onto the engine's linear layers.
extension AWQGroup {
    /// The engine's linears whose input columns are scaled.
    public var scaledRoles: [LinearRole] { scaled.compactMap(LinearRole.init(tensorName:)) }

    /// The linear whose input is the group's input feature (the first scaled one).
    public var inputRole: LinearRole { scaledRoles[0] }

    /// The groups of one block of `c`'s architecture, in AutoAWQ's order (empty when the
    /// architecture has none). v → o exists only when v_proj and o_proj have the same shape.
    /// A file with routed experts takes the groups of the description with experts (Mixtral's,
    /// not llama's, for a "llama" file).
    public static func groups(for c: ModelConfig) -> [AWQGroup] {
        let moe = c.expertCount > 0
            ? ArchitectureSpec.all.first { $0.arch == c.architecture && $0.converter.experts != nil } : nil
        guard let spec = moe ?? ArchitectureSpec.gguf(c.architecture) else { return [] }
        let e = c.embeddingLength
        let vShapeEqualsO = c.kvDimV == e && c.headCount * c.headDimV == e
        return spec.awqGroups.filter { !$0.needsSquareValueProjection || vShapeEqualsO }
    }

    /// `general.architecture` values whose descriptions have scaling groups.
    public static var architectures: [String] {
        // Each GGUF name once (Mixtral's files say "llama").
        var out: [String] = []
        for spec in ArchitectureSpec.all where !spec.awqGroups.isEmpty && !out.contains(spec.arch) { out.append(spec.arch) }
        return out
    }
}
