extension Image {
    /// One grey plane in [0,1], as OpenCV's `IMREAD_GRAYSCALE` reads a file: a grey image's
    /// own samples (scaled by its `maxValue`), a colour one through `BGR2GRAY` on 8 bits.
    /// Alpha is ignored.
    public func greyPlane() -> [Float] {
        if isGray { return floatPlane(0, scaledTo: 1) }
        let p = converted(toBitDepth: 8).rgbPlanes(scaledTo: 255)
        return ColorConversion.openCVGray8(red: p.red, green: p.green, blue: p.blue).map { $0 / 255 }
    }
}
