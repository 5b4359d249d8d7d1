import FusionCore

/// A tensor of float64 values in contiguous row-major order: what the float64 references
/// compute on. f32 and i32 tensors widen into it exactly.
public struct Float64Tensor: Equatable {
    public var data: [Double]
    public var shape: [Int]

    public init(_ data: [Double], _ shape: [Int]) {
        precondition(data.count == shape.reduce(1, *), "\(data.count) values for shape \(shape)")
        self.data = data
        self.shape = shape
    }

    /// The values of an f32 or i32 tensor, widened exactly.
    public init(_ tensor: Tensor) {
        switch tensor.dtype {
        case .i32: self.init(tensor.int32s.map(Double.init), tensor.shape)
        default: self.init(tensor.floats.map(Double.init), tensor.shape)
        }
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
}
