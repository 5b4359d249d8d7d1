import Crypto
import Foundation
import FusionIO
import FusionTestSupport
import XCTest

/// `PILResize.bicubic` against Pillow 13's `Image.resize(size, Image.BICUBIC)`: SHA-256 of
/// Pillow's output bytes, computed once with Pillow on the same shared images.
final class PILResizeTests: XCTestCase {
    private func digest(_ image: Image) -> String {
        SHA256.hash(data: Data(image.samples.map { UInt8($0) })).map { String(format: "%02x", $0) }.joined()
    }

    func testDownscaleOfAColourJPEG() throws {
        let vis = try Image.read(path: TestData.path("data/pairs/mixed4/vi/FLIR_01932.jpg"))
        XCTAssertEqual(digest(vis), "32a8dd7aa704b63eeeb4bed66953f69587b4e35fc86f13e975f22cd8ba6854be", "decoded like Pillow")
        XCTAssertEqual(digest(PILResize.bicubic(vis, width: 528, height: 288)), "56c06f243a48bff0081cb95ec57ef8f8dac6bc72870cf49ec2dd19e8bc91c1a0")
    }

    func testUpAndDownscaleOfAGreyCrop() throws {
        let ir = try Image.read(path: TestData.path("data/pairs/mixed4/ir/00016N.png"))
        var samples: [UInt16] = []
        for y in 150..<179 { for x in 200..<237 { samples.append(ir[x: x, y: y, channel: 0]) } }
        let crop = Image(width: 37, height: 29, channels: 1, samples: samples)
        XCTAssertEqual(digest(crop), "c9aaabe02cf5dff7833ad6b3bd0dd367a8203beca63c7594d8a51456088179d3")
        let expected: [(Int, Int, String)] = [
            (48, 40, "6370e1e40070b107798a2c507d3f187b0d0bbc01e44bc1872e6703783a37c332"),
            (20, 16, "e195afa02656e7c1ef5c1f23bd9994f2e5ffeca861d6aa0cf734d0f83e96cb0f"),
            (37, 16, "ec2347a4ede309348631ab7479e1bf0d576d6435b38623b98a999f21268ed8fc"),
            (64, 29, "059e7dd7330eb26df8e97b8543b492656246245a1d3551de83c4af20a13b6cc7"),
        ]
        for (w, h, sha) in expected {
            XCTAssertEqual(digest(PILResize.bicubic(crop, width: w, height: h)), sha, "\(w)x\(h)")
        }
    }
}
