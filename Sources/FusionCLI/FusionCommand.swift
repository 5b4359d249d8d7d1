import ArgumentParser

@main
struct FusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusion",
        abstract: "Text-guided infrared-visible image fusion on Vulkan GPUs and the CPU.",
        subcommands: [FuseCommand.self, EncodeTextCommand.self, CheckGoldenCommand.self, InspectCommand.self, DevicesCommand.self, ParityCommand.self, BenchCommand.self, ProfileCommand.self, EvalCommand.self]
    )
}
