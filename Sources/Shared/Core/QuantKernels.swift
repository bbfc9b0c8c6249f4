import CKernels

/// Swift face of the CKernels target: dequantization, fused dequantize-dot and matrix-vector products on rows of
/// GGML-quantized weights, in C compiled for baseline x86-64, AVX2 and AVX-512 and chosen at run time
/// (`MOP_KERNEL_ISA=baseline|avx2|avx512` forces a lower variant). Every variant gives bit-identical results:
/// the dequantized values are `GGUFDequantize`'s exactly, and dot products sum in one fixed order (float rows: element
/// i into lane i % 16; block types: integer quants times x on 16 lanes per unit of 16 or 32 elements, each unit scaled
/// into the lanes by a fused multiply-add, the min terms apart; then a fixed pairwise reduction; see CKernels.h).
/// Single-threaded: callers split rows.
public enum QuantKernels {
    /// "avx512", "avx2" or "baseline": the variant in use.
    public static var isa: String { String(cString: mop_kernel_isa()) }

    /// Whether the kernels decode `type` (the same types `GGUFDequantize` does).
    public static func supports(_ type: GGUFTensorType) -> Bool { mop_type_supported(Int32(type.rawValue)) != 0 }

    /// Decodes `count` elements (a multiple of `type.blockSize`) of one row at `src` into `into`, bit-equal to
    /// `GGUFDequantize.dequantize`. False (and `into` untouched) for an unsupported type.
    @discardableResult
    public static func dequantizeRow(type: GGUFTensorType, _ src: UnsafeRawPointer, count: Int,
                                     into: UnsafeMutablePointer<Float>) -> Bool {
        mop_dequantize_row(Int32(type.rawValue), src, Int64(count), into) == 0
    }

    /// dot(row at `src`, `x`) over `count` elements (a multiple of the block size), without materialising the row,
    /// within a few roundings of the dequantized row's exact dot (not bit-equal to dequantize-then-dot: see
    /// CKernels.h); nil for an unsupported type.
    public static func dot(type: GGUFTensorType, _ src: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float? {
        guard supports(type) else { return nil }
        return mop_dot_row(Int32(type.rawValue), src, x, Int64(count))
    }

    /// `y[r] = dot(row rows[r] (or r when rows is nil), x)` for r < count, rows being `rowBytes` apart from `base`
    /// and `n` elements long. False (and `y` untouched) for an unsupported type.
    @discardableResult
    public static func matvec(type: GGUFTensorType, base: UnsafeRawPointer, rowBytes: Int, rows: UnsafePointer<Int32>?,
                              count: Int, x: UnsafePointer<Float>, n: Int, y: UnsafeMutablePointer<Float>) -> Bool {
        mop_matvec(Int32(type.rawValue), base, Int64(rowBytes), rows, Int64(count), x, Int64(n), y) == 0
    }
}
