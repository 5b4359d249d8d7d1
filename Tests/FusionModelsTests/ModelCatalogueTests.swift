import Foundation
import FusionCore
import FusionEngine
import FusionModels
import FusionTestSupport
import XCTest

/// The model catalogue: one list that `fuse`, `bench`, `profile` and `check-golden` read,
/// each model's workload, and the commands answering from it.
final class ModelCatalogueTests: XCTestCase {
    func testNamesAndGoldenKindsAreUniqueAndFound() throws {
        let names = ModelCatalogue.names
        XCTAssertEqual(names, ["textfusion", "textif", "film", "clip-text", "rfc"])
        XCTAssertEqual(Set(names).count, names.count)
        let kinds = ModelCatalogue.goldenKinds
        XCTAssertEqual(Set(kinds).count, kinds.count, "a golden kind belongs to one model")
        XCTAssertEqual(Set(GoldenRunner.supportedKinds), ["textfusion", "textfusion_rgb", "tokenizer", "clip_text", "textif", "film",
                                                          "rfc", "rfc_clip_vision", "rfc_text_split"])
        for kind in kinds { XCTAssertNotNil(ModelCatalogue.model(forGoldenKind: kind)) }
        XCTAssertNil(ModelCatalogue.model(forGoldenKind: "ifilm"))
        XCTAssertEqual(ModelCatalogue.fusionNames, ["textfusion", "textif", "film", "rfc"])
        XCTAssertThrowsError(try ModelCatalogue.model(named: "resnet")) { error in
            XCTAssertTrue("\(error)".contains("known: textfusion, textif, film, clip-text, rfc"), "\(error)")
        }
    }

    /// Every model's workload builds at batch 1 and 2, and batch 2 is the batch-1 graph
    /// with twice the inputs.
    func testWorkloadsOfEveryModel() throws {
        var settings = ModelSettings(weights: nil, randomSeed: 3)
        for entry in ModelCatalogue.models {
            if entry == TextFusionEntry.self { settings = ModelSettings(weights: try TestData.path("weights/textfusion_llvip.model")) } else { settings = ModelSettings(randomSeed: 3) }
            let loaded = try entry.load(settings)
            let one = try loaded.workload(height: 32, width: 48, batch: 1)
            if entry == RFCEntry.self {
                // One pair per graph (CLIPSeg's tower alone is ViT-B/16 at 352x352 twice).
                XCTAssertThrowsError(try loaded.workload(height: 32, width: 48, batch: 2)) { XCTAssertTrue("\($0)".contains("--batch 2"), "\($0)") }
                XCTAssertEqual(one.graph.inputs.map { $0.0 }.sorted(), ["condition", "film_b", "film_w", "ir", "vis"])
                continue
            }
            let two = try loaded.workload(height: 32, width: 48, batch: 2)
            for (name, value) in one.graph.inputs {
                let batched = try XCTUnwrap(two.graph.inputs.first { $0.0 == name }?.1, "\(entry.name): input \(name)")
                XCTAssertEqual(batched.shape[0], 2 * value.shape[0], "\(entry.name): input \(name) \(value.shape) vs \(batched.shape)")
            }
            for (name, t) in two.fixedInputs {
                XCTAssertEqual(t.shape, two.graph.inputs.first { $0.0 == name }?.1.shape, "\(entry.name): fixed input \(name)")
            }
        }
    }

    /// Text-IF workloads band-tile the graph where the whole one would not fit a 2 GiB
    /// device, and only there.
    func testTextIFWorkloadIsBandedWhenLarge() throws {
        let textIF = try TextIFEntry.load(ModelSettings(randomSeed: 7))
        let small = try textIF.workload(height: 64, width: 80, batch: 1)
        XCTAssertEqual(small.name, "textif (dim 48)")
        let large = try textIF.workload(height: 1024, width: 1280, batch: 1)
        XCTAssertEqual(large.name, "textif (dim 48, banded)")
        XCTAssertLessThanOrEqual(try TextIFGraph.plannedBytes(large.graph).total, 1536 << 20)
    }

    func testLoadingNamesWhatIsMissing() throws {
        XCTAssertThrowsError(try TextIFEntry.load(ModelSettings())) { XCTAssertTrue("\($0)".contains("--random-weights SEED"), "\($0)") }
        XCTAssertThrowsError(try TextFusionEntry.load(ModelSettings(randomSeed: 1))) { XCTAssertTrue("\($0)".contains("--random-weights"), "\($0)") }
        let random = try TextIFEntry.load(ModelSettings(randomSeed: 1))
        XCTAssertNil(random.weightsPath)
        XCTAssertThrowsError(try random.promptEncoder(ModelSettings(), on: SelectedBackend.open(.cpu))) {
            XCTAssertTrue("\($0)".contains("--clip"), "\($0)")
        }
    }

    /// The commands read their model lists and option rules from the catalogue.
    func testCommandsAnswerFromTheCatalogue() throws {
        let help = try FusionCLI.run(["bench", "--help"])
        XCTAssertTrue(help.out.contains("textfusion, textif, film, clip-text"), help.out)
        for (arguments, message) in [
            (["profile", "--model", "all"], "profile runs one model"),
            (["bench", "--model", "textif", "--model", "clip-text", "--weights", "x.pth"], "name the model: --weights MODEL=FILE"),
            (["bench", "--model", "textif", "--weights", "resnet=x.pth"], "--weights resnet=x.pth"),
            (["fuse", "--model", "clip-text", "--ir", "a.png", "--vis", "b.png", "-o", "c.png"], "it fuses no images"),
            (["fuse", "--model", "textif", "--random-weights", "1", "--grey", "--ir", "a.png", "--vis", "b.png", "-o", "c.png"],
             "--grey applies to --model textfusion, not textif"),
        ] {
            let r = try FusionCLI.run(arguments)
            XCTAssertNotEqual(r.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(r.err.contains(message), "\(arguments.joined(separator: " ")): \(r.err)")
        }
        // The CLIP tower and Text-IF with random weights, batched, through `bench`.
        let r = try FusionCLI.run(["bench", "--model", "clip-text", "--model", "textif", "--batch", "2", "--size", "32x48",
                                   "--backend", "cpu", "--no-peak", "--repeat", "1", "--warmup", "0", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("2x77 tokens"), r.out)
        XCTAssertTrue(r.out.contains("32x48 x2"), r.out)
    }
}
