import Foundation
import FusionIO

/// The models this engine runs: the one list `fuse`, `bench`, `profile`, `check-golden`
/// and their help texts read.
public enum ModelCatalogue {
    public static let models: [any CatalogueModel.Type] = [
        TextFusionEntry.self,
        TextIFEntry.self,
        FILMEntry.self,
        CLIPTextEntry.self,
        RFCEntry.self,
    ]

    /// Every `--model` name, in catalogue order.
    public static var names: [String] { models.map { $0.name } }
    /// The models `fuse` can run (those that fuse images).
    public static var fusionNames: [String] { models.filter { $0.fusesImages }.map { $0.name } }
    /// Every golden-case kind some model checks.
    public static var goldenKinds: [String] { models.flatMap { $0.goldenKinds } }

    /// The model named `name` (`--model`), or an error listing the known ones.
    public static func model(named name: String) throws -> any CatalogueModel.Type {
        guard let m = models.first(where: { $0.name == name }) else {
            throw CatalogueError("--model \(name): unknown model; known: \(names.joined(separator: ", "))")
        }
        return m
    }

    /// The model that checks golden cases of `kind`.
    public static func model(forGoldenKind kind: String) -> (any CatalogueModel.Type)? {
        models.first { $0.goldenKinds.contains(kind) }
    }

    /// The models that take `option`, for "applies to" messages.
    public static func models(taking option: FuseOption) -> [String] {
        models.filter { $0.fuseOptions.contains(option) }.map { $0.name }
    }
}

/// A model name or setting the catalogue cannot serve.
public struct CatalogueError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
