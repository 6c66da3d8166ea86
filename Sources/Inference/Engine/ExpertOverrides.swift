/// Replacement weights for the matrices of an MoE block, for calibration (AWQ's scale search):
/// the router and, by expert index, some experts' gate, up and down (each `rows × columns` of
/// one expert's slice). Matrices without a replacement keep the model's weights.
public struct ExpertOverrides {
    public var router: LinearOverride?
    public var gate: [Int: LinearOverride]
    public var up: [Int: LinearOverride]
    public var down: [Int: LinearOverride]

    public init(router: LinearOverride? = nil, gate: [Int: LinearOverride] = [:], up: [Int: LinearOverride] = [:],
                down: [Int: LinearOverride] = [:]) {
        self.router = router
        self.gate = gate
        self.up = up
        self.down = down
    }
}
