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
    public static func groups(for c: ModelConfig) -> [AWQGroup] {
        guard let spec = ArchitectureSpec.gguf(c.architecture) else { return [] }
        let e = c.embeddingLength
        let vShapeEqualsO = c.kvDimV == e && c.headCount * c.headDimV == e
        return spec.awqGroups.filter { !$0.needsSquareValueProjection || vShapeEqualsO }
    }

    /// `general.architecture` values whose descriptions have scaling groups.
    public static var architectures: [String] {
        ArchitectureSpec.all.filter { !$0.awqGroups.isEmpty }.map(\.arch)
    }
}
