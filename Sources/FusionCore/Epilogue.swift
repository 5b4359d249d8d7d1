/// Elementwise work a conv2d, linear or matmul node applies to its result before storing it,
/// so that a bias, activation, residual add, per-channel scale-shift or FiLM costs no pass of
/// its own over memory (`EpilogueFusion` moves such nodes into their producer).
///
/// The steps run in order on the op's result (after its own bias). A step's operands are the
/// last inputs of the node, in step order, after the op's own inputs (`Node.baseInputCount`).
public struct Epilogue: Equatable, Sendable, CustomStringConvertible {
    public enum Step: Equatable, Sendable {
        /// `f(y)`.
        case unary(UnaryKind)
        /// `y op t` (or `t op y` when `operandFirst`), the operand `t` broadcast to the
        /// result's shape (NumPy rules): a residual of the same shape, a per-channel
        /// `[N, C, 1, 1]` scale, a `[C]` vector of a linear layer...
        case binary(BinaryKind, operandFirst: Bool)
        /// `(1 + gamma) * y + beta`, gamma and beta `[N, C]` over a result `[N, C, H, W]`.
        case film
        /// PReLU with a slope `[C]` (or `[1]`) over dimension 1 of the result.
        case prelu

        /// Operands (node inputs) the step reads.
        public var operandCount: Int {
            switch self {
            case .unary: return 0
            case .binary, .prelu: return 1
            case .film: return 2
            }
        }

        public var name: String {
            switch self {
            case let .unary(k): return k.name
            case let .binary(k, first): return first ? "\(k.rawValue)_from" : k.rawValue
            case .film: return "film"
            case .prelu: return "prelu"
            }
        }
    }

    public var steps: [Step]

    public init(_ steps: [Step] = []) { self.steps = steps }

    public static let none = Epilogue()

    public var isEmpty: Bool { steps.isEmpty }
    public var operandCount: Int { steps.reduce(0) { $0 + $1.operandCount } }
    public var description: String { steps.map(\.name).joined(separator: "+") }

    /// The ops that can carry an epilogue.
    public static func accepts(_ op: Op) -> Bool {
        switch op {
        case .conv2d, .convTranspose2d, .linear, .matmul: return true
        default: return false
        }
    }

    /// Checks each step's operands against the result shape `out`; `operands` are the
    /// epilogue's operand shapes in step order.
    public func validate(out: [Int], operands: [[Int]], op: String) throws {
        guard operands.count == operandCount else {
            throw FusionError.invalidArgument(op: op, detail: "epilogue \(description) takes \(operandCount) operands, got \(operands.count)")
        }
        var k = 0
        for step in steps {
            switch step {
            case .unary: break
            case .binary:
                let t = operands[k]
                guard t.count <= out.count, Self.broadcasts(t, to: out) else {
                    throw FusionError.invalidArgument(op: op, detail: "epilogue \(step.name) operand \(t) does not broadcast to the result \(out)")
                }
            case .film:
                guard out.count == 4, operands[k] == [out[0], out[1]], operands[k + 1] == [out[0], out[1]] else {
                    throw FusionError.invalidArgument(op: op, detail: "epilogue film needs gamma and beta [N, C] for a result [N, C, H, W], got \(operands[k]) and \(operands[k + 1]) for \(out)")
                }
            case .prelu:
                let c = operands[k].reduce(1, *)
                guard out.count >= 2, operands[k].count == 1, c == 1 || c == out[1] else {
                    throw FusionError.invalidArgument(op: op, detail: "epilogue prelu needs a slope [1] or [\(out.count >= 2 ? out[1] : 0)], got \(operands[k])")
                }
            }
            k += step.operandCount
        }
    }

    /// Whether `t` broadcasts to `out` without changing `out` (NumPy rules, aligned right).
    public static func broadcasts(_ t: [Int], to out: [Int]) -> Bool {
        guard t.count <= out.count else { return false }
        for (a, b) in zip(t.reversed(), out.reversed()) where a != b && a != 1 { return false }
        return true
    }
}
