import FusionCore

extension EncodeContext {
    /// Records the dispatches of one node. Each case calls the encoder of its kernel
    /// family in `Ops/` (one `.comp` file per family in `Shaders/`).
    ///
    /// `allInputs` are the node's inputs: the op's own, then its epilogue's operands. The op
    /// encoder gets the op's own; a kernel that can apply the epilogue at its store takes it
    /// from `epilogue` (`fusedEpilogue`), else it runs after the op as a pass over the
    /// output (`encodeEpiloguePass`).
    func encode(_ node: Node, _ allInputs: [DeviceTensor], _ output: DeviceTensor) throws {
        begin(node)
        let inputs = Array(allInputs.prefix(node.baseInputCount))
        epilogue = node.epilogue.isEmpty ? nil
            : PendingEpilogue(epilogue: node.epilogue, operands: Array(allInputs.suffix(node.epilogue.operandCount)))
        defer { epilogue = nil }
        try encodeOp(node, inputs, output)
        if let pending = epilogue, !pending.applied {
            try encodeEpiloguePass(pending, output)
        }
    }

    private func encodeOp(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        switch node.op {
        case .conv2d: try encodeConv2d(node, inputs, output)
        case .convTranspose2d: try encodeConvTranspose2d(node, inputs, output)
        case .pointwiseDepthwise: try encodePointwiseDepthwise(node, inputs, output)
        case .matmul: try encodeMatmul(node, inputs, output)
        case .linear: try encodeLinear(node, inputs, output)
        case .attention: try encodeAttention(node, inputs, output)
        case .windowAttention: try encodeWindowAttention(node, inputs, output)
        case .channelAttention: try encodeChannelAttention(node, inputs, output)
        case .layerNormChannels: try encodeLayerNormChannels(node, inputs, output)
        case .layerNorm: try encodeLayerNorm(node, inputs, output)
        case .groupNorm: try encodeGroupNorm(node, inputs, output)
        case .globalNorm: try encodeGlobalNorm(node, inputs, output)
        case .globalStats: try encodeGlobalStats(node, inputs, output)
        case .globalPool: try encodeGlobalPool(node, inputs, output)
        case .channelReduce: try encodeChannelReduce(node, inputs, output)
        case .softmax: try encodeSoftmax(node, inputs, output)
        case .unary: try encodeUnary(node, inputs, output)
        case .binary: try encodeBinary(node, inputs, output)
        case .film: try encodeFilm(node, inputs, output)
        case .prelu: try encodePrelu(node, inputs, output)
        case .pixelShuffle, .pixelUnshuffle: try encodePixelShuffle(node, inputs, output)
        case .concat: try encodeConcat(node, inputs, output)
        case .slice: try encodeSlice(node, inputs, output)
        case .pad: try encodePad(node, inputs, output)
        case .crop: try encodeCrop(node, inputs, output)
        case .embedding: try encodeEmbedding(node, inputs, output)
        case .resize: try encodeResize(node, inputs, output)
        case .permute: try encodePermute(node, inputs, output)
        case .reshape: try encodeCopy(inputs[0], output)
        }
    }

    /// A plain copy (used when a reshape cannot alias its input, e.g. a graph output that
    /// is a view of a graph input).
    func encodeCopy(_ src: DeviceTensor, _ dst: DeviceTensor) throws {
        guard src.byteCount > 0 else { return }
        try sequence.copy(from: BufferBinding(buffer: src.buffer, offset: src.offset, size: src.byteCount, access: .read),
                          to: BufferBinding(buffer: dst.buffer, offset: dst.offset, size: dst.byteCount, access: .write),
                          bytes: src.byteCount)
    }
}
