#if canImport(Glibc)
import Glibc
#endif

/// Turns ggml tensor bytes into Float exactly as ggml's `dequantize_row_*` and gguf-py's `gguf.quants.dequantize` do:
/// the same Float operations in the same order (no fused multiply-add), so the results are bit-equal
/// (`scripts/check-dequantize.py` checks every tensor of real files). The float types and the 32-element block types
/// are here; the 256-element K-quants are in GGUFKQuants.swift.
///
/// Each block type has one function decoding one block from a raw pointer to `blockSize` floats; `blocks` runs it
/// over the tensor. The loops index raw pointers, so a 1 GB tensor costs no allocation beyond its output.
public enum GGUFDequantize {
    /// Dequantizes `count` elements of `type` from `raw`, which must hold exactly their bytes.
    /// `file` names the source in errors (unsupported type, wrong byte count).
    public static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGUFTensorType, count: Int,
                                  file: String) throws -> [Float] {
        guard type.isDequantizable else {
            throw MopError(file: file, "tensor type \(type.name) is not supported (supported: \(supportedTypeNames))")
        }
        guard let bytes = type.byteCount(elements: count), bytes == raw.count else {
            throw MopError(file: file, "\(raw.count) bytes do not hold \(count) elements of type \(type.name)")
        }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            adviseHugePages(UnsafeMutableRawBufferPointer(out))
            decode(raw, type: type, into: out)
            initialized = count
        }
    }

    /// Asks Linux to back a large fresh output with 2 MB pages. Decoding is fast (1-2 GB/s of Q4_K in, 5-12 GB/s of
    /// floats out), so first-touch faults of 4 kB output pages took most of the time: 7 GB of fp32 for a 1.5B model
    /// is 1.7 million faults. Where transparent huge pages are `madvise`-only (the common default) this cuts them 512-fold;
    /// elsewhere it is a no-op. Only whole 2 MB-aligned stretches inside the buffer are advised.
    private static func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
        let hugePage = 2 << 20
        guard let base = buffer.baseAddress, buffer.count >= 2 * hugePage else { return }
        let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
        let end = (Int(bitPattern: base) + buffer.count) & ~(hugePage - 1)
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)  // advice only: a refusal leaves ordinary pages
        #endif
    }

    /// "F32, F16, ...": the types `dequantize` accepts, for error messages.
    static let supportedTypeNames = GGUFTensorType.allCases.filter(\.isDequantizable).map(\.name).joined(separator: ", ")

    /// Fills `out` from `raw`; both sizes have been checked against `type`.
    private static func decode(_ raw: UnsafeRawBufferPointer, type: GGUFTensorType, into out: UnsafeMutableBufferPointer<Float>) {
        switch type {
        case .f32: f32(raw, out)
        case .f16: f16(raw, out)
        case .bf16: bf16(raw, out)
        case .q8_0: blocks(raw, out, .q8_0, q8_0)
        case .q4_0: blocks(raw, out, .q4_0, q4_0)
        case .q4_1: blocks(raw, out, .q4_1, q4_1)
        case .q5_0: blocks(raw, out, .q5_0, q5_0)
        case .q5_1: blocks(raw, out, .q5_1, q5_1)
        case .q2_K: blocks(raw, out, .q2_K, q2_K)
        case .q3_K: blocks(raw, out, .q3_K, q3_K)
        case .q4_K: blocks(raw, out, .q4_K, q4_K)
        case .q5_K: blocks(raw, out, .q5_K, q5_K)
        case .q6_K: blocks(raw, out, .q6_K, q6_K)
        default: break  // excluded by isDequantizable
        }
    }

    /// Runs `block` on each block of `type`: it reads one block at its first argument and writes `type.blockSize`
    /// floats at its second. Inlined so each type's decoder is specialized into its own loop.
    @inline(__always)
    private static func blocks(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>, _ type: GGUFTensorType,
                               _ block: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        guard let source = raw.baseAddress, let destination = out.baseAddress else { return }
        let size = type.blockSize, bytes = type.blockBytes
        for index in 0..<out.count / size {
            block(source + index * bytes, destination + index * size)
        }
    }

    /// The f16 (IEEE half) at `offset`, widened exactly.
    @inline(__always)
    static func half(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    @inline(__always)
    static func half(_ x: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: x.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    /// The byte at `offset`.
    @inline(__always)
    static func byte(_ x: UnsafeRawPointer, _ offset: Int) -> UInt8 { x.load(fromByteOffset: offset, as: UInt8.self) }

    private static func f32(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    }

    private static func f16(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count { out[i] = half(raw, 2 * i) }
    }

    /// BF16 is the top half of an f32.
    private static func bf16(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(bitPattern: UInt32(bits) << 16)
        }
    }

    /// Q8_0, 34 bytes: `struct block_q8_0 { ggml_half d; int8_t qs[32]; }`; x = q * d.
    private static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0)
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: byte(x, 2 + j))) * d }
    }

    /// Q4_0, 18 bytes: `struct block_q4_0 { ggml_half d; uint8_t qs[16]; }`; x = (nibble - 8) * d.
    private static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        nibbles(x, y, quantsAt: 2, highBitsAt: nil, offset: -8, d: half(x, 0), m: nil)
    }

    /// Q4_1, 20 bytes: `struct block_q4_1 { ggml_half d; ggml_half m; uint8_t qs[16]; }`; x = nibble * d + m.
    private static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        nibbles(x, y, quantsAt: 4, highBitsAt: nil, offset: 0, d: half(x, 0), m: half(x, 2))
    }

    /// Q5_0, 22 bytes: `struct block_q5_0 { ggml_half d; uint8_t qh[4]; uint8_t qs[16]; }`; x = (q - 16) * d.
    private static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        nibbles(x, y, quantsAt: 6, highBitsAt: 2, offset: -16, d: half(x, 0), m: nil)
    }

    /// Q5_1, 24 bytes: `struct block_q5_1 { ggml_half d; ggml_half m; uint8_t qh[4]; uint8_t qs[16]; }`; x = q * d + m.
    private static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        nibbles(x, y, quantsAt: 8, highBitsAt: 4, offset: 0, d: half(x, 0), m: half(x, 2))
    }

    /// The 32 elements of a Q4_0/Q4_1/Q5_0/Q5_1 block: byte j of qs holds element j in its low nibble and element
    /// j + 16 in its high one; the 5-bit types add bit j of the little-endian u32 qh as bit 4 of element j.
    /// x = (q + offset) * d, plus m for the types that store a min. Without a min no term is added at all:
    /// adding 0 would turn -0.0 into +0.0, unlike ggml.
    @inline(__always)
    private static func nibbles(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, quantsAt: Int, highBitsAt: Int?,
                                offset: Int, d: Float, m: Float?) {
        let qh = highBitsAt.map { UInt32(littleEndian: x.loadUnaligned(fromByteOffset: $0, as: UInt32.self)) } ?? 0
        for j in 0..<16 {
            let q = byte(x, quantsAt + j)
            // Masks rather than shifts by j: a per-element shift count does not vectorize on x86-64 without AVX2.
            let low = Int32(q & 0x0F) | (qh & 1 << UInt32(j) != 0 ? 16 : 0)
            let high = Int32(q >> 4) | (qh & 1 << UInt32(j + 16) != 0 ? 16 : 0)
            let a = Float(low + Int32(offset)) * d, b = Float(high + Int32(offset)) * d
            if let m {
                y[j] = a + m
                y[j + 16] = b + m
            } else {
                y[j] = a
                y[j + 16] = b
            }
        }
    }
}
