import ArgumentParser

/// `fuse` options of RFC (`--model rfc`): CLIPSeg's checkpoint and an explicit instruction
/// split (the splitter's error names these when it does not recognise a prompt).
struct RFCFuseOptions: ParsableArguments {
    @Option(help: "RFC: CLIPSeg's decoder checkpoint (rd64-uni-refined.pth, from RFC's CLIPSeg/weights).")
    var clipseg: String?

    @Option(help: "RFC: where to act, instead of splitting --text: an object for CLIPSeg (e.g. \"car\"), \"image\" for the whole image, or \"none\". Needs --process.")
    var target: String?

    @Option(help: "RFC: what to do, with the target replaced by 'photo' (e.g. \"enhance the light of the photo\"). With --target, or alone for the \"none\" target.")
    var process: String?

    @Option(name: .customLong("also"), help: "RFC, one pair: another instruction for the same pair (repeatable). Each instruction writes OUT_<n>.png (1 for the first); the vision tower runs once and CLIPSeg's decoder once per distinct target.")
    var also: [String] = []
}
