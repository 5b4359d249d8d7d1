import FusionCore

/// Seeded random weights for a model's released configuration without a checkpoint
/// (benchmarks, parity runs): each tensor uniform in +-1/sqrt(fan-in), from a seed that
/// advances per tensor, so a configuration and a seed always give the same weights.
struct SeededWeights {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func random(_ shape: [Int]) -> Tensor {
        state &+= 0x9E37_79B9
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : shape[0]
        let a = 1 / Float(max(fanIn, 1)).squareRoot()
        return Tensor.random(shape: shape, seed: state, in: -a...a)
    }

    func ones(_ n: Int) -> Tensor { Tensor(shape: [n], floats: [Float](repeating: 1, count: n)) }
    func zeros(_ n: Int) -> Tensor { Tensor(shape: [n]) }
}
