import Foundation
@testable import FusionIO
import FusionTestSupport
import XCTest

/// `ColorConversion`: hand-computed values, and the TextFusion golden cases bit for bit.
final class ImageColorConversionTests: XCTestCase {
    // (R, G, B) rows used by the hand-computed checks.
    private let red: [Float] = [255, 0, 0, 10, 255, 0, 0, 0, 0]
    private let green: [Float] = [0, 255, 0, 200, 255, 65, 130, 175, 190]
    private let blue: [Float] = [0, 0, 255, 30, 255, 196, 28, 77, 105]

    func testBT601Luma() {
        let y = ColorConversion.bt601Luma(red: red, green: green, blue: blue)
        // 0.299*255, 0.587*255, 0.114*255, 2.99 + 117.4 + 3.42, white.
        let expected: [Float] = [76.245, 149.685, 29.07, 123.81, 255, 60.499, 79.502, 111.503, 123.5]
        for (value, wanted) in zip(y, expected) { XCTAssertEqual(value, wanted, accuracy: 1e-4) }
        XCTAssertEqual(y[4], 255, "white stays 255 (the sum is a hair above it before the clip)")
        XCTAssertNotEqual(y[3], y[3].rounded(), "not rounded")
        // Clipped, and scaled in Double before rounding to Float.
        XCTAssertEqual(ColorConversion.bt601Luma(red: [300, -20], green: [300, -20], blue: [300, -20]), [255, 0])
        let unit = ColorConversion.bt601Luma(red: [10], green: [200], blue: [30], scaledTo: 1)
        XCTAssertEqual(unit, [Float((0.299 * 10 + 0.587 * 200 + 0.114 * 30) / 255.0)])
    }

    func testTextFusionChromaAndInverse() {
        let (cb, cr) = ColorConversion.textFusionChroma(red: red, green: green, blue: blue)
        XCTAssertEqual(cb[0], -43.095, accuracy: 1e-4) // -0.169 * 255
        XCTAssertEqual(cr[0], 127.5, accuracy: 1e-4)   // 0.5 * 255
        XCTAssertEqual(cb[2], 127.5, accuracy: 1e-4)
        XCTAssertEqual(cr[2], -20.655, accuracy: 1e-4) // -0.081 * 255
        XCTAssertEqual(cb[3], -52.89, accuracy: 1e-4)  // -1.69 - 66.2 + 15
        XCTAssertEqual(cr[3], -81.23, accuracy: 1e-4)  // 5 - 83.8 - 2.43

        // The inverse gives back the colours (the published coefficients are not exact inverses,
        // hence a tolerance of one level).
        let y = ColorConversion.bt601Luma(red: red, green: green, blue: blue)
        let back = ColorConversion.textFusionRGB(y: y, cb: cb, cr: cr)
        for i in 0..<red.count {
            XCTAssertEqual(back.red[i], red[i], accuracy: 1, "pixel \(i)")
            XCTAssertEqual(back.green[i], green[i], accuracy: 1, "pixel \(i)")
            XCTAssertEqual(back.blue[i], blue[i], accuracy: 1, "pixel \(i)")
        }
        XCTAssertEqual(ColorConversion.textFusionRecolor(luma: y, red: red, green: green, blue: blue).red, back.red)

        // Clip, then round half to even.
        let zero = [Float](repeating: 0, count: 4)
        let rounded = ColorConversion.textFusionRGB(y: [2.5, 3.5, 300, -5], cb: zero, cr: zero)
        XCTAssertEqual(rounded.red, [2, 4, 255, 0])
        XCTAssertEqual(rounded.green, [2, 4, 255, 0])
        XCTAssertEqual(rounded.blue, [2, 4, 255, 0])
        // R = Y + 1.402 Cr, G = Y - 0.344136 Cb - 0.714136 Cr, B = Y + 1.772 Cb.
        let mixed = ColorConversion.textFusionRGB(y: [100], cb: [10], cr: [-20])
        XCTAssertEqual(mixed.red, [72])    // 71.96
        XCTAssertEqual(mixed.green, [111]) // 100 - 3.44136 + 14.28272 = 110.84
        XCTAssertEqual(mixed.blue, [118])  // 117.72
    }

    func testOpenCVAndPILGrey() {
        // Fixed point: (R*4899 + G*9617 + B*1868 + 8192) >> 14 and
        // (R*19595 + G*38470 + B*7471 + 32768) >> 16, computed by hand. The last four rows are
        // colours where the two libraries disagree (BT.601 luma within 0.01 of a half).
        XCTAssertEqual(ColorConversion.openCVGray8(red: red, green: green, blue: blue), [76, 150, 29, 124, 255, 61, 79, 111, 123])
        XCTAssertEqual(ColorConversion.pilGray(red: red, green: green, blue: blue), [76, 150, 29, 124, 255, 60, 80, 112, 124])
        // PIL (10, 200, 30): (195950 + 7694000 + 224130 + 32768) >> 16 = 8146848 >> 16 = 124.
        XCTAssertEqual(ColorConversion.pilGray(red: [10], green: [200], blue: [30]), [124])
        // Inputs are taken as uint8: rounded and clamped first.
        XCTAssertEqual(ColorConversion.openCVGray8(red: [254.6, 300], green: [254.6, 300], blue: [254.6, 300]), [255, 255])
        XCTAssertEqual(ColorConversion.pilGray(red: [-3, .nan], green: [0, 0], blue: [0, 0]), [0, 0])

        // Float path: b*0.114f + g*0.587f + r*0.299f in Float, in that order.
        let float = ColorConversion.openCVGrayFloat(red: red, green: green, blue: blue)
        for i in 0..<red.count {
            let b = blue[i] * Float(0.114), g = green[i] * Float(0.587), r = red[i] * Float(0.299)
            XCTAssertEqual(float[i], (b + g) + r, "pixel \(i)")
        }
        XCTAssertEqual(float[3], 123.81, accuracy: 1e-4)
        XCTAssertEqual(float[0], Float(255) * Float(0.299))
    }

    // MARK: - Golden cases (../shared/golden, produced by the original TextFusion script)

    /// The tensors of a safetensors file (F32 and U8 only), read directly so these tests do not
    /// depend on the checkpoint readers.
    private func loadSafetensors(_ path: String) throws -> [String: Data] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as? [String: Any])
        var tensors: [String: Data] = [:]
        for (name, value) in header where name != "__metadata__" {
            let offsets = try XCTUnwrap((value as? [String: Any])?["data_offsets"] as? [Int])
            tensors[name] = data.subdata(in: 8 + headerLength + offsets[0]..<8 + headerLength + offsets[1])
        }
        return tensors
    }

    private func floats(_ data: Data?) throws -> [Float] {
        let data = try XCTUnwrap(data)
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func testNetworkInputsMatchTheTextFusionGoldenCase() throws {
        let golden = try loadSafetensors(try TestData.path("golden/textfusion_1024x1280.safetensors"))
        let visible = try Image.read(path: try TestData.path("data/pairs/llvip_sample/vis.png"))
        let infrared = try Image.read(path: try TestData.path("data/pairs/llvip_sample/ir.png"))
        XCTAssertEqual([visible.width, visible.height, visible.channels], [1280, 1024, 3])
        XCTAssertEqual(infrared.channels, 1)

        XCTAssertEqual(infrared.floatPlane(0), try floats(golden["ir"]), "IR grey / 255, bit for bit")
        let (r, g, b) = visible.rgbPlanes(scaledTo: 255)
        let luma = ColorConversion.bt601Luma(red: r, green: g, blue: b, scaledTo: 1)
        XCTAssertEqual(luma, try floats(golden["vis"]), "visible BT.601 Y / 255, bit for bit")
    }

    func testRecolorMatchesTheTextFusionRGBGoldenCase() throws {
        let network = try loadSafetensors(try TestData.path("golden/textfusion_1024x1280.safetensors"))
        let golden = try loadSafetensors(try TestData.path("golden/textfusion_rgb_1024x1280.safetensors"))
        let visible = try Image.read(path: try TestData.path("data/pairs/llvip_sample/vis.png"))
        let fusedLuma = try floats(network["output"]).map { $0 * 255 }
        let (r, g, b) = visible.rgbPlanes(scaledTo: 255)
        let rgb = ColorConversion.textFusionRecolor(luma: fusedLuma, red: r, green: g, blue: b)
        let image = Image(planes: [rgb.red, rgb.green, rgb.blue], width: 1280, height: 1024, scaledFrom: 255)
        let expected = [UInt8](try XCTUnwrap(golden["fused_rgb"]))
        XCTAssertEqual(image.samples.count, expected.count)
        let mismatches = zip(image.samples, expected).filter { $0 != UInt16($1) }.count
        XCTAssertEqual(mismatches, 0, "fused RGB samples differing from the original script")
    }
}
