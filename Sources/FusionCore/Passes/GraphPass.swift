import Foundation

/// One rewrite of a graph that keeps its outputs (within float rounding) and moves fewer
/// bytes or runs fewer nodes. Each can be switched off (`--passes`, FUSIONKIT_PASSES) to
/// bisect a difference.
public enum GraphPass: String, CaseIterable, Sendable, Comparable {
    /// A 1x1 convolution read only by a full convolution is composed into it (before
    /// constant folding, which computes the composed weight).
    case convComposition = "compose-convs"
    /// Nodes whose inputs are all constants (weight-only subgraphs) run once at prepare time.
    case constantFolding = "fold-constants"
    /// A normalisation whose only consumers are 1x1 convolutions is folded into them.
    case normFolding = "fold-norms"
    /// A 1x1 conv whose only consumer is a depthwise conv (and the LayerNorm before it, if
    /// any) becomes one node that never stores the norm or the 1x1 output.
    case pointwiseDepthwiseFusion = "fuse-pointwise-depthwise"
    /// Bias, activation, residual add, per-channel scale-shift, FiLM and PReLU nodes move
    /// into the conv2d / linear / matmul that produces their input.
    case epilogueFusion = "fuse-epilogues"
    /// Nodes no graph output depends on are dropped.
    case deadNodes = "drop-dead-nodes"
    /// Contiguous slices become views of their input and concats are written in place by
    /// their operands' producers (`LayoutViews`); the graph's nodes stay, running nothing.
    case layoutViews = "layout-views"

    public static func < (a: GraphPass, b: GraphPass) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public var summary: String {
        switch self {
        case .convComposition: return "compose a 1x1 conv into the full conv that alone reads it"
        case .constantFolding: return "run weight-only subgraphs once at prepare time"
        case .normFolding: return "fold a norm followed only by 1x1 convs into those convs"
        case .pointwiseDepthwiseFusion: return "fuse [LayerNorm ->] 1x1 conv -> depthwise conv into one node"
        case .epilogueFusion: return "fuse bias/activation/residual/scale-shift/FiLM/PReLU into the producing conv or GEMM"
        case .deadNodes: return "drop nodes no output depends on"
        case .layoutViews: return "make contiguous slices views and write concats in place"
        }
    }
}

/// The passes a backend applies when it prepares a graph, in their fixed order.
public struct GraphPasses: Equatable, Sendable, CustomStringConvertible {
    public var enabled: Set<GraphPass>

    public init(_ enabled: Set<GraphPass>) { self.enabled = enabled }

    public static let all = GraphPasses(Set(GraphPass.allCases))
    public static let none = GraphPasses([])

    public var ordered: [GraphPass] { enabled.sorted() }
    public var description: String { enabled.isEmpty ? "none" : enabled.count == GraphPass.allCases.count ? "all" : ordered.map(\.rawValue).joined(separator: ",") }

    /// "all", "none", or a comma-separated list of pass names (`GraphPass.rawValue`);
    /// a name prefixed with "-" removes that pass from all ("-fold-norms").
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "all" || t.isEmpty { self = .all; return }
        if t == "none" { self = .none; return }
        let names = t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let removing = names.allSatisfy { $0.hasPrefix("-") }
        var set: Set<GraphPass> = removing ? Set(GraphPass.allCases) : []
        for name in names {
            let bare = name.hasPrefix("-") ? String(name.dropFirst()) : name
            guard let pass = GraphPass(rawValue: bare), name.hasPrefix("-") == removing else {
                throw FusionError.invalidArgument(op: "passes", detail: "'\(name)' is not a pass; expected all, none, or a comma-separated list of \(GraphPass.allCases.map(\.rawValue).joined(separator: ", ")) (each prefixed with - to remove it from all)")
            }
            if removing { set.remove(pass) } else { set.insert(pass) }
        }
        self.init(set)
    }
}
