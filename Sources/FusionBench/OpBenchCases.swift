import FusionCore
import FusionParity

/// The op benchmarks: the op catalogue's bench shapes (the kernels the fusion networks
/// spend their time in, at the shapes they run them) as bench cases.
public enum OpBenchCases {
    /// Names of every op family, for `--op` and error messages.
    public static var families: [String] { OpCatalogue.benchFamilies }

    /// Every op case for an image of `height` x `width` whose family is in `families`
    /// (all when nil). The size must be a multiple of 8.
    public static func cases(height: Int, width: Int, families selected: Set<String>? = nil) throws -> [BenchCase] {
        try OpCatalogue.benchCases(height: height, width: width, families: selected).map {
            BenchCase(name: $0.name, kind: .op, size: $0.size, graph: $0.graph)
        }
    }
}
