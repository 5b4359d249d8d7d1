import FusionCore

/// Float64 data movement (pixel (un)shuffle, concat, slice, pad, crop, embedding, reshape,
/// permute): each output element read from the input position PyTorch's definition names.
public enum LayoutReference64 {
    /// `F.pixel_shuffle`: out[n, c, y*r+dy, x*r+dx] = in[n, c*r*r + dy*r + dx, y, x].
    public static func pixelShuffle(_ x: Float64Tensor, factor r: Int) -> Float64Tensor {
        let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
        let c = cin / (r * r)
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for y in 0..<h {
                    for xx in 0..<w {
                        for dy in 0..<r {
                            for dx in 0..<r {
                                let src = ((b * cin + ch * r * r + dy * r + dx) * h + y) * w + xx
                                let dst = ((b * c + ch) * (h * r) + y * r + dy) * (w * r) + xx * r + dx
                                out[dst] = x.data[src]
                            }
                        }
                    }
                }
            }
        }
        return Float64Tensor(out, [n, c, h * r, w * r])
    }

    /// `F.pixel_unshuffle`: out[n, c*r*r + dy*r + dx, y, x] = in[n, c, r*y+dy, r*x+dx].
    public static func pixelUnshuffle(_ x: Float64Tensor, factor r: Int) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let ho = h / r, wo = w / r
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for dy in 0..<r {
                    for dx in 0..<r {
                        for y in 0..<ho {
                            for xx in 0..<wo {
                                let dst = ((b * c * r * r + ch * r * r + dy * r + dx) * ho + y) * wo + xx
                                let src = ((b * c + ch) * h + r * y + dy) * w + r * xx + dx
                                out[dst] = x.data[src]
                            }
                        }
                    }
                }
            }
        }
        return Float64Tensor(out, [n, c * r * r, ho, wo])
    }

    /// `torch.cat` along `axis`: per outer index, each part's block in turn.
    public static func concat(_ parts: [Float64Tensor], axis: Int) -> Float64Tensor {
        var shape = parts[0].shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = Float64Indexing.count(Array(shape[..<axis])), inner = Float64Indexing.count(Array(shape[(axis + 1)...]))
        var out: [Double] = []
        out.reserveCapacity(Float64Indexing.count(shape))
        for o in 0..<outer {
            for p in parts {
                let block = p.shape[axis] * inner
                out.append(contentsOf: p.data[(o * block)..<((o + 1) * block)])
            }
        }
        return Float64Tensor(out, shape)
    }

    /// `x.narrow(axis, start, length)`.
    public static func slice(_ x: Float64Tensor, axis: Int, start: Int, length: Int) -> Float64Tensor {
        var shape = x.shape
        shape[axis] = length
        let outer = Float64Indexing.count(Array(shape[..<axis])), inner = Float64Indexing.count(Array(shape[(axis + 1)...]))
        let block = x.shape[axis] * inner
        var out: [Double] = []
        out.reserveCapacity(Float64Indexing.count(shape))
        for o in 0..<outer {
            out.append(contentsOf: x.data[(o * block + start * inner)..<(o * block + (start + length) * inner)])
        }
        return Float64Tensor(out, shape)
    }

    /// `F.pad(x, (left, right, top, bottom), mode)` on [N,C,H,W], mode "reflect" or "constant" 0.
    public static func pad(_ x: Float64Tensor, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let ho = h + top + bottom, wo = w + left + right
        var out = [Double](repeating: 0, count: n * c * ho * wo)
        for b in 0..<n {
            for ch in 0..<c {
                for y in 0..<ho {
                    for xx in 0..<wo {
                        var iy = y - top, ix = xx - left
                        if mode == .reflect {
                            iy = Float64Indexing.reflect(iy, h)
                            ix = Float64Indexing.reflect(ix, w)
                        } else if iy < 0 || iy >= h || ix < 0 || ix >= w {
                            continue
                        }
                        out[((b * c + ch) * ho + y) * wo + xx] = x.data[((b * c + ch) * h + iy) * w + ix]
                    }
                }
            }
        }
        return Float64Tensor(out, [n, c, ho, wo])
    }

    /// `x[:, :, y:y+height, x:x+width]`.
    public static func crop(_ x: Float64Tensor, y: Int, x x0: Int, height: Int, width: Int) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var out = [Double](repeating: 0, count: n * c * height * width)
        for b in 0..<n {
            for ch in 0..<c {
                for yy in 0..<height {
                    for xx in 0..<width {
                        out[((b * c + ch) * height + yy) * width + xx] = x.data[((b * c + ch) * h + y + yy) * w + x0 + xx]
                    }
                }
            }
        }
        return Float64Tensor(out, [n, c, height, width])
    }

    /// `F.embedding`: ids [...] -> [..., D] rows of table [V, D].
    public static func embedding(ids: Float64Tensor, table: Float64Tensor) -> Float64Tensor {
        let v = table.shape[0], d = table.shape[1]
        var out = [Double](repeating: 0, count: ids.count * d)
        for (i, id) in ids.data.enumerated() {
            let row = Int(id)
            precondition(row >= 0 && row < v, "id \(id) outside the table's \(v) rows")
            for j in 0..<d { out[i * d + j] = table.data[row * d + j] }
        }
        return Float64Tensor(out, ids.shape + [d])
    }

    /// `x.reshape(shape)`: the same elements in the same order.
    public static func reshape(_ x: Float64Tensor, to shape: [Int]) -> Float64Tensor {
        Float64Tensor(x.data, shape)
    }

    /// `x.permute(perm)`: out[i_0, ..., i_{r-1}] = x[j] with j[perm[d]] = i_d.
    public static func permute(_ x: Float64Tensor, _ perm: [Int]) -> Float64Tensor {
        let outShape = perm.map { x.shape[$0] }
        let inStrides = Float64Indexing.strides(x.shape)
        var out = [Double](repeating: 0, count: x.count)
        var idx = [Int](repeating: 0, count: outShape.count)
        for i in 0..<out.count {
            var src = 0
            for d in 0..<perm.count { src += idx[d] * inStrides[perm[d]] }
            out[i] = x.data[src]
            Float64Indexing.increment(&idx, outShape)
        }
        return Float64Tensor(out, outShape)
    }
}
