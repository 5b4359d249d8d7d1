// libFuzzer harness for the checkpoint readers (safetensors, .npy, PyTorch zip and
// TorchScript through CheckpointReader, plus the readers called directly), built by
// Tools/fuzz/run-checkpoint-fuzzer with -sanitize=fuzzer,address.
//
// Any crash, trap, leak-free hang or address error is a finding; a thrown FileFormatError
// is the expected way to fail and must name the file.
import Foundation
import FusionCore
import FusionIO

private let fuzzName = "fuzz-input"

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    // Views that repeat one element (zero strides) may be valid; keep what they may
    // materialise small so the fuzzer measures parsing, not memset.
    StoredTensor.maxMaterializedBytes = 1 << 20
    return 0
}

private func materialise(_ archive: TensorArchive) {
    for t in archive.tensors {
        do {
            let f = try t.floatValues()
            precondition(f.count == t.elementCount, "\(t.name): \(f.count) values for \(t.elementCount) elements")
            let b = try t.contiguousBytes()
            precondition(b.count == t.elementCount * t.dtype.byteSize)
            _ = try t.integerValues()
            _ = try t.toTensor()
        } catch let error as FileFormatError {
            precondition(!error.message.isEmpty)
        } catch {
            preconditionFailure("unexpected error type: \(error)")
        }
    }
}

/// A stored zip entry list as torch.save lays it out (CRC-correct), so that mutations of
/// the pickle are not all stopped by the CRC check.
private func zipArchive(_ entries: [(String, [UInt8])]) -> [UInt8] {
    var out: [UInt8] = [], central: [UInt8] = []
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    for (name, data) in entries {
        let nameBytes = Array(name.utf8), offset = out.count
        let crc = data.withUnsafeBytes { ZipArchive.crc32($0) }
        out += le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
        out += le32(crc) + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(nameBytes.count) + le16(0)
        out += nameBytes + data
        central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
        central += le32(crc) + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(nameBytes.count) + le16(0) + le16(0)
        central += le16(0) + le16(0) + le32(0) + le32(UInt32(offset)) + nameBytes
    }
    let directoryOffset = out.count
    out += central
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
    out += le32(UInt32(central.count)) + le32(UInt32(directoryOffset)) + le16(0)
    return out
}

/// Inputs starting with this byte are a bare pickle (data.pkl), wrapped into a valid
/// checkpoint with storages "0" to "3" of 64 bytes each (constants.pkl too when the
/// second byte is odd: the TorchScript layout).
private let pickleMode: UInt8 = 0xF7

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var bytes = data.map { [UInt8](UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if bytes.count >= 2, bytes[0] == pickleMode {
        let script = bytes[1] & 1 == 1
        let storage = (0..<64).map { UInt8($0 * 37 & 0xFF) }
        var entries: [(String, [UInt8])] = [("archive/data.pkl", Array(bytes[2...]))]
        entries += (0..<4).map { ("archive/data/\($0)", storage) }
        if script { entries.append(("archive/constants.pkl", [0x80, 0x02, 0x29, 0x2E])) }
        entries.append(("archive/version", Array("3\n".utf8)))
        bytes = zipArchive(entries)
    }
    let file = MappedFile(data: Data(bytes), path: fuzzName)
    func attempt(_ body: () throws -> TensorArchive) {
        do {
            materialise(try body())
        } catch let error as FileFormatError {
            precondition(error.description.contains(fuzzName) && !error.message.isEmpty, "error without the file: \(error)")
        } catch {
            preconditionFailure("unexpected error type: \(error)")
        }
    }
    // Format detection first (what `fusion inspect` does), then each reader on its own so
    // that every reader sees every input.
    attempt { try CheckpointReader.read(file: file).archive }
    attempt { try SafetensorsReader.read(file: file) }
    attempt { TensorArchive(path: fuzzName, format: .npy, tensors: [try NPYReader.read(file: file)], file: file) }
    attempt { try TorchCheckpointReader.read(file: file).archive }
    return 0
}
