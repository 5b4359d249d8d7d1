import FusionCore

extension TextIFWeights {
    /// The released configuration (dim 48, blocks [2,2,2,2], 4 refinement blocks, heads
    /// [1,2,4,8], FFN factor 2) or any other, with seeded random weights scaled by
    /// 1/sqrt(fan-in): for benchmarks without a checkpoint.
    public init(randomDim dim: Int = 48, blocks: [Int] = [2, 2, 2, 2], refinementBlocks: Int = 4,
                heads: [Int] = [1, 2, 4, 8], ffnFactor: Int = 2, textDimension: Int = 512, seed: UInt64 = 1) {
        var weights = SeededWeights(seed: seed)
        func random(_ shape: [Int]) -> Tensor { weights.random(shape) }
        func ones(_ n: Int) -> Tensor { weights.ones(n) }
        func zeros(_ n: Int) -> Tensor { weights.zeros(n) }
        func block(_ c: Int, _ h: Int) -> Block {
            let hidden = c * ffnFactor
            return Block(norm1Weight: ones(c), norm1Bias: zeros(c), temperature: ones(h),
                         qkvWeight: (0..<3).map { _ in random([c, c, 1, 1]) }, qkvDepthwise: (0..<3).map { _ in random([c, 1, 3, 3]) },
                         projectOut: random([c, c, 1, 1]), norm2Weight: ones(c), norm2Bias: zeros(c),
                         ffnIn: random([hidden, c, 1, 1]), ffnConv: random([hidden, hidden, 3, 3]), ffnOut: random([c, hidden, 1, 1]))
        }
        func encoder() -> Encoder {
            Encoder(patchEmbed: random([dim, 3, 3, 3]),
                    levels: (0..<4).map { k in (0..<blocks[k]).map { _ in block(dim << k, heads[k]) } },
                    downsample: (0..<3).map { k in random([(dim << k) / 2, dim << k, 3, 3]) })
        }
        let c4 = 8 * dim
        self.dim = dim
        encoderA = encoder()
        encoderB = encoder()
        crossNormA = (ones(c4), zeros(c4)); crossNormB = (ones(c4), zeros(c4))
        crossQKVA = (0..<3).map { _ in random([c4, c4, 1, 1]) }; crossQKVB = (0..<3).map { _ in random([c4, c4, 1, 1]) }
        crossOutA = (random([c4, c4, 1, 1]), zeros(c4)); crossOutB = (random([c4, c4, 1, 1]), zeros(c4))
        spatialNorm = (ones(c4), zeros(c4))
        spatialQKV = (0..<3).map { _ in random([c4, c4, 1, 1]) }
        spatialOut = (random([c4, c4, 1, 1]), zeros(c4))
        fusion = (0..<4).map { k in random([dim << k, 2 * (dim << k), 1, 1]) }
        guidance = (0..<4).map { k in
            PromptGuidance(w1: random([1024, textDimension]), b1: zeros(1024), w2: random([2 * (dim << k), 1024]), b2: zeros(2 * (dim << k)))
        }
        decoder4 = (0..<blocks[3]).map { _ in block(c4, heads[3]) }
        decoder3 = (0..<blocks[2]).map { _ in block(4 * dim, heads[2]) }
        decoder2 = (0..<blocks[1]).map { _ in block(2 * dim, heads[1]) }
        decoder1 = (0..<blocks[0]).map { _ in block(2 * dim, heads[0]) }
        refinement = (0..<refinementBlocks).map { _ in block(2 * dim, heads[0]) }
        up43 = random([16 * dim, 8 * dim, 3, 3]); up32 = random([8 * dim, 4 * dim, 3, 3]); up21 = random([4 * dim, 2 * dim, 3, 3])
        reduce3 = random([4 * dim, 8 * dim, 1, 1]); reduce2 = random([2 * dim, 4 * dim, 1, 1])
        output = random([3, 2 * dim, 3, 3])
    }

    /// Parameters of the fusion network (the CLIP tower not included).
    public var parameterCount: Int {
        func blockCount(_ b: Block) -> Int {
            [b.norm1Weight, b.norm1Bias, b.temperature, b.projectOut, b.norm2Weight, b.norm2Bias, b.ffnIn, b.ffnConv, b.ffnOut].reduce(0) { $0 + $1.count }
                + b.qkvWeight.reduce(0) { $0 + $1.count } + b.qkvDepthwise.reduce(0) { $0 + $1.count }
        }
        func encoderCount(_ e: Encoder) -> Int {
            e.patchEmbed.count + e.levels.joined().reduce(0) { $0 + blockCount($1) } + e.downsample.reduce(0) { $0 + $1.count }
        }
        var n = encoderCount(encoderA) + encoderCount(encoderB)
        n += [crossNormA.0, crossNormA.1, crossNormB.0, crossNormB.1, crossOutA.0, crossOutA.1, crossOutB.0, crossOutB.1,
              spatialNorm.0, spatialNorm.1, spatialOut.0, spatialOut.1, up43, up32, up21, reduce3, reduce2, output].reduce(0) { $0 + $1.count }
        n += (crossQKVA + crossQKVB + spatialQKV + fusion).reduce(0) { $0 + $1.count }
        n += guidance.reduce(0) { $0 + $1.w1.count + $1.b1.count + $1.w2.count + $1.b2.count }
        n += (decoder4 + decoder3 + decoder2 + decoder1 + refinement).reduce(0) { $0 + blockCount($1) }
        return n
    }
}
