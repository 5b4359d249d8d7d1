import Foundation
import FusionCore
import FusionIO
import FusionModels

/// RFC's prompts: each instruction split (`InstructionSplitter`, or the explicit
/// `--target` / `--process` split for every prompt), its phrases encoded by the CLIP text
/// tower of the CLIP checkpoint, as one `RFCModel.Condition.vector` per prompt (what the
/// pair pipeline carries as a prompt's "features"). An instruction the splitter does not
/// recognise fails in `tokens`, so a dataset fails only the pairs that use it.
final class RFCPromptEncoder: PromptEncoder {
    let model: RFCModel
    let explicit: RFCInstruction?

    init(model: RFCModel, explicit: RFCInstruction?, clipPath: String, vocabularyPath: String?, backend: SelectedBackend) throws {
        self.model = model
        self.explicit = explicit
        try super.init(clipPath: clipPath, vocabularyPath: vocabularyPath, backend: backend, useCache: false)
    }

    func instruction(_ prompt: String) throws -> RFCInstruction {
        try explicit ?? InstructionSplitter.split(prompt)
    }

    /// The process phrase's tokens; the split and the target's tokens are checked too
    /// (no truncation: the original's `clip.tokenize` raises on an over-long phrase).
    override func tokens(_ prompt: String, truncate: Bool) throws -> [Int32] {
        let i = try instruction(prompt)
        if case let .text(target) = i.target { _ = try model.front.tokenizer.tokenize(target, truncate: false) }
        return try model.front.tokenizer.tokenize(i.process, truncate: false)
    }

    override func encode(_ prompts: [String], truncate: Bool = false) throws -> [[Float]] {
        try prompts.map { try model.condition(instruction($0)).condition.vector }
    }
}
