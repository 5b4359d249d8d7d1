/// Element strides of a contiguous row-major tensor of `shape`, or nil when a stride or
/// the element count does not fit in `Int` (shapes declared by files: check them with this).
///
/// A shape with a zero dimension has no elements, but its strides can still overflow
/// (`[0, 1 << 32, 1 << 32]`): nil then too, and callers decide what an empty view needs.
public func checkedContiguousStrides(_ shape: [Int]) -> [Int]? {
    guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
    return overflowCheckedStrides(shape)
}

private func overflowCheckedStrides(_ shape: [Int]) -> [Int]? {
    var strides = Array(repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        let (next, overflow) = s.multipliedReportingOverflow(by: shape[i])
        guard !overflow else { return nil }
        s = next
    }
    return strides
}

/// The number of elements of `shape` (the product of its sizes), or nil when a size is
/// negative or the product does not fit in `Int`. Zero when any size is zero, whatever the
/// others are.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
    if shape.contains(0) { return 0 }
    var count = 1
    for d in shape {
        let (c, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow else { return nil }
        count = c
    }
    return count
}

/// Element strides of a contiguous row-major tensor of `shape`.
///
/// For the engine's own shapes, which always fit; a shape whose strides overflow stops the
/// program with a message naming it (shapes read from files go through
/// `checkedContiguousStrides`, which returns nil instead).
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    guard let strides = overflowCheckedStrides(shape) else {
        preconditionFailure("the strides of shape \(shape) overflow Int (use checkedContiguousStrides for declared shapes)")
    }
    return strides
}
