import FusionCore

extension FILMWeights {
    /// The released configuration (mid 32, 8 heads, FFN factor 4, text 768 -> 256, 32
    /// image-to-text channels) with seeded random weights scaled by 1/sqrt(fan-in): for
    /// benchmarks and parity runs without a checkpoint.
    public init(randomSeed seed: UInt64, mid: Int = 32, heads: Int = 8, ffnFactor: Int = 4, textDimension: Int = 768,
                hidden: Int = 256, image2text: Int = 32) {
        var weights = SeededWeights(seed: seed)
        func random(_ shape: [Int]) -> Tensor { weights.random(shape) }
        func ones(_ n: Int) -> Tensor { weights.ones(n) }
        func zeros(_ n: Int) -> Tensor { weights.zeros(n) }
        func block(_ c: Int) -> Block {
            let h = c * ffnFactor
            return Block(norm1Weight: ones(c), norm1Bias: zeros(c), temperature: ones(heads),
                         qkvWeight: (0..<3).map { _ in random([c, c, 1, 1]) }, qkvDepthwise: (0..<3).map { _ in random([c, 1, 3, 3]) },
                         projectOut: random([c, c, 1, 1]), norm2Weight: ones(c), norm2Bias: zeros(c),
                         ffnIn: (0..<2).map { _ in random([h, c, 1, 1]) }, ffnDepthwise: (0..<2).map { _ in random([h, 1, 3, 3]) },
                         ffnOut: random([c, h, 1, 1]))
        }
        func stream(_ input: Int) -> Stream {
            Stream(conv1: random([mid, input, 3, 3]), prelu1: 0.25, restormer: block(mid),
                   image2text: (random([image2text, mid, 1, 1]), zeros(image2text)),
                   attention: CrossAttention(weight: (0..<3).map { _ in random([hidden, hidden]) }, bias: (0..<3).map { _ in zeros(hidden) },
                                             outWeight: random([hidden, hidden]), outBias: zeros(hidden)),
                   conv2: (random([mid, image2text, 1, 1]), zeros(mid)), prelu2: 0.25,
                   conv3: (random([mid, 2 * mid, 1, 1]), zeros(mid)), prelu3: 0.25)
        }
        textWeight = random([hidden, textDimension])
        textBias = zeros(hidden)
        blocks = (0..<3).map { k in CABlock(a: stream(k == 0 ? 1 : mid), b: stream(k == 0 ? 1 : mid)) }
        restormer1 = block(2 * mid)
        restormer2 = block(mid)
        restormer3 = block(mid)
        conv1 = (random([mid, 2 * mid, 1, 1]), zeros(mid))
        conv2 = (random([1, mid, 1, 1]), zeros(1))
    }

    /// Parameters of the network (about 2.07M in the released configuration).
    public var parameterCount: Int {
        func count(_ b: Block) -> Int {
            [b.norm1Weight, b.norm1Bias, b.temperature, b.projectOut, b.norm2Weight, b.norm2Bias, b.ffnOut].reduce(0) { $0 + $1.count }
                + (b.qkvWeight + b.qkvDepthwise + b.ffnIn + b.ffnDepthwise).reduce(0) { $0 + $1.count }
        }
        func count(_ s: Stream) -> Int {
            s.conv1.count + 3 + count(s.restormer) + s.image2text.weight.count + s.image2text.bias.count
                + (s.attention.weight + s.attention.bias).reduce(0) { $0 + $1.count } + s.attention.outWeight.count + s.attention.outBias.count
                + s.conv2.weight.count + s.conv2.bias.count + s.conv3.weight.count + s.conv3.bias.count
        }
        return textWeight.count + textBias.count + blocks.reduce(0) { $0 + count($1.a) + count($1.b) }
            + count(restormer1) + count(restormer2) + count(restormer3)
            + conv1.weight.count + conv1.bias.count + conv2.weight.count + conv2.bias.count
    }
}
