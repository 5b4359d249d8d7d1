/// A 128-bit FNV-1a hash: stable across processes, platforms and Swift versions (unlike
/// `Hasher`), used to name on-disk cache entries. Not cryptographic; fine for cache keys.
struct StableHash128 {
    // FNV-1a 128-bit parameters (offset basis and prime), as (high, low) 64-bit halves.
    private var high: UInt64 = 0x6C62_272E_07BB_0142
    private var low: UInt64 = 0x62B8_2175_6295_C58D
    private static let primeHigh: UInt64 = 0x0000_0000_0100_0000
    private static let primeLow: UInt64 = 0x0000_0000_0000_013B

    init() {}

    mutating func combine<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for byte in bytes {
            low ^= UInt64(byte)
            // (high, low) *= prime, modulo 2^128.
            let (productHigh, productLow) = low.multipliedFullWidth(by: Self.primeLow)
            let newHigh = productHigh &+ high &* Self.primeLow &+ low &* Self.primeHigh
            high = newHigh
            low = productLow
        }
    }

    /// Hashes the string's UTF-8 bytes followed by a length suffix, so that field
    /// boundaries are unambiguous ("ab"+"c" != "a"+"bc").
    mutating func combine(_ string: String) {
        combine(bytes: string.utf8)
        combine(UInt64(string.utf8.count))
    }

    mutating func combine(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { combine(bytes: $0) }
    }

    /// 32 lowercase hex digits.
    var hexDigest: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }
}
