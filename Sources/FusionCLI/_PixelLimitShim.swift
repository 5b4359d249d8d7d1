import FusionIO
// TEMPORARY until the image-hardening branch lands.
extension Image {
    static var defaultPixelLimit: Int { 50_000_000 }
    static func read(path: String, pixelLimit: Int) throws -> Image { try Image.read(path: path) }
}
