import FusionParity
import XCTest

/// Vulkan vs CPU on the op catalogue's test cases of the memory-bound ops (norms, softmax,
/// elementwise, layout, embedding, resize): odd sizes, channels not a multiple of 4, 1x1
/// maps, ill-conditioned statistics, extreme values against float64, and tensors over one
/// binding. Run with FUSIONKIT_VALIDATION=1 to have every case assert zero validation-layer
/// messages.
final class LightOpsParityTests: XCTestCase {
    func testReductionCases() throws { try CatalogueParity.check(.reduction) { !OpVariant.pooling.contains($0) } }

    func testPoolingCases() throws { try CatalogueParity.check(.reduction) { OpVariant.pooling.contains($0) } }

    func testPointwiseCases() throws { try CatalogueParity.check(.pointwise) }

    func testLayoutCases() throws { try CatalogueParity.check(.layout) }

    func testResamplingCases() throws { try CatalogueParity.check(.resampling) }
}
