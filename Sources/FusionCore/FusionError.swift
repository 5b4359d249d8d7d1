/// Errors raised while building or running a graph. Every case says which op, tensor or
/// argument is at fault, so a user can act on the message alone.
public enum FusionError: Error, CustomStringConvertible, Equatable {
    /// Operand shapes or dtypes an op cannot accept.
    case shapeMismatch(op: String, detail: String)
    /// An attribute outside its valid range (negative stride, unknown axis...).
    case invalidArgument(op: String, detail: String)
    /// The backend has no implementation for this op.
    case unsupportedOp(op: String, backend: String)
    /// A graph input was not supplied, or supplied with the wrong shape.
    case missingInput(name: String)
    case inputShapeMismatch(name: String, expected: [Int], got: [Int])
    /// A value id that does not belong to the graph.
    case unknownValue(Int)
    /// A tensor exceeds a device limit and the op cannot split it.
    case limitExceeded(op: String, detail: String)
    /// Host memory for `what` (`bytes` of it) cannot be had: an allocation failed, or the
    /// address-space limit (`ulimit -v`) leaves less than it needs.
    case outOfMemory(what: String, bytes: Int, available: Int?)
    /// Anything the backend reports (device errors, compile errors...).
    case backend(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, detail): return "\(op): shape mismatch: \(detail)"
        case let .invalidArgument(op, detail): return "\(op): invalid argument: \(detail)"
        case let .unsupportedOp(op, backend): return "\(op): not supported by the \(backend) backend"
        case let .missingInput(name): return "graph input '\(name)' was not supplied"
        case let .inputShapeMismatch(name, expected, got):
            return "graph input '\(name)': expected shape \(expected), got \(got)"
        case let .unknownValue(id): return "value %\(id) does not belong to this graph"
        case let .limitExceeded(op, detail):
            return "\(op): device limit exceeded: \(detail). The input is too large for this device: use --backend cpu, or a smaller image"
        case let .outOfMemory(what, bytes, available):
            let left = available.map { ", and the address-space limit (ulimit -v) leaves \(HostMemory.describe($0))" } ?? ""
            return "out of memory: \(HostMemory.describe(bytes)) needed for \(what)\(left); free memory, raise the limit or use a smaller input"
        case let .backend(message): return message
        }
    }
}
