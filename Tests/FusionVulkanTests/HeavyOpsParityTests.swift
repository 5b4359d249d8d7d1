import FusionParity
import XCTest

/// Vulkan vs CPU on the op catalogue's test cases of the compute-heavy kernels (conv2d,
/// matmul, linear, token / window / channel attention): odd sizes, 1x1 maps, large K, the
/// split paths and model-sized steady-state runs. CI runs this class again with the other
/// kernel set (`FUSIONKIT_KERNELS=tiled`).
final class HeavyOpsParityTests: XCTestCase {
    func testConvolutionCases() throws { try CatalogueParity.check(.convolution) { $0 != .convTranspose2d } }

    func testConvTransposeCases() throws { try CatalogueParity.check(.convolution) { $0 == .convTranspose2d } }

    func testMatrixProductCases() throws { try CatalogueParity.check(.matrixProduct) }

    func testAttentionCases() throws { try CatalogueParity.check(.attention) }
}
