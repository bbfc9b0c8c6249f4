extension GGUFWriter {
    /// An export type (`--export-type`): one element type for every matrix (f32, f16, bf16 and the 32-block types),
    /// or a llama.cpp mixture (q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k) where each tensor's type follows llama-quantize's rules.
    /// Named as llama-quantize names them.
    public enum MatrixType: String, CaseIterable, Sendable {
        case f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k

        /// llama.cpp's `llama_ftype_get_default_type`: the type of a matrix no rule promotes.
        public var tensorType: GGUFTensorType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            case .q8_0: .q8_0
            case .q4_0: .q4_0
            case .q4_1: .q4_1
            case .q5_0: .q5_0
            case .q5_1: .q5_1
            case .q4_k_s, .q4_k_m: .q4_K
            case .q5_k_s, .q5_k_m: .q5_K
            case .q6_k: .q6_K
            }
        }

        /// llama.cpp's `general.file_type` (`llama_ftype`); "mostly": 1-D tensors stay F32.
        public var fileType: UInt32 {
            switch self {
            case .f32: 0
            case .f16: 1
            case .q4_0: 2
            case .q4_1: 3
            case .q8_0: 7
            case .q5_0: 8
            case .q5_1: 9
            case .q4_k_s: 14
            case .q4_k_m: 15
            case .q5_k_s: 16
            case .q5_k_m: 17
            case .q6_k: 18
            case .bf16: 32
            }
        }

        /// The export type a GGUF of `general.file_type` `fileType` was written in, nil for a type mop does not write.
        public init?(fileType: UInt32) {
            guard let type = Self.allCases.first(where: { $0.fileType == fileType }) else { return nil }
            self = type
        }

        /// Whether the matrices are block-quantized (GGUF only: safetensors holds float types).
        public var isQuantized: Bool { tensorType.blockSize > 1 }

        /// The type of each tensor (`names` in GGUF naming, `shapes` row-major with the row length last, in any order),
        /// by llama.cpp's `llama_tensor_get_type` for a dense, non-expert model quantized from F32:
        /// - 1-D tensors (norms, biases) stay F32.
        /// - output.weight, and token_embd.weight when there is no output.weight (tied), are Q6_K in every quantized
        ///   mixture except q8_0 (Q8_0 when their rows are not whole blocks of the base type).
        /// - attn_v.weight: Q6_K in q4_k_m and q5_k_m for the layers `moreBits` picks (counted in llama.cpp's order),
        ///   Q5_K in q4_k_s for the first 4; in an 80-layer grouped-query model (`seventyB`, llama.cpp's LLM_TYPE_70B)
        ///   a remaining Q4_K becomes Q5_K.
        /// - ffn_down.weight: Q6_K in q4_k_m and q5_k_m for the layers `moreBits` picks, Q5_K in q4_k_s for the first
        ///   eighth; with an importance, Q4_1/Q5_1 in q4_0/q5_0 for the first eighth.
        /// - Then the fallback for rows that are not whole blocks (pruned widths): Q4_K -> Q5_0, Q5_K -> Q5_1,
        ///   Q6_K -> Q8_0, and F16 when even 32-element blocks do not fit.
        public func tensorTypes(names: [String], shapes: [[Int]], layers: Int, seventyB: Bool, hasImportance: Bool) -> [GGUFTensorType] {
            precondition(names.count == shapes.count, "tensorTypes: \(names.count) names, \(shapes.count) shapes")
            let base = tensorType
            let tied = !names.contains("output.weight")
            var attentionV = 0, ffnDown = 0
            let attentionVCount = names.filter { $0.contains("attn_v.weight") }.count
            var types = [GGUFTensorType](repeating: .f32, count: names.count)
            for index in Self.llamaOrder(names) where shapes[index].count > 1 {
                let name = names[index], columns = shapes[index][shapes[index].count - 1]
                guard isQuantized else {
                    types[index] = base
                    continue
                }
                var type = base
                if name == "output.weight" || (tied && name == "token_embd.weight") {
                    type = columns % base.blockSize != 0 ? .q8_0 : base == .q8_0 ? .q8_0 : .q6_K
                } else if name.contains("attn_v.weight") {
                    if (self == .q4_k_m || self == .q5_k_m) && Self.moreBits(attentionV, attentionVCount) {
                        type = .q6_K
                    } else if self == .q4_k_s && attentionV < 4 {
                        type = .q5_K
                    }
                    if seventyB && type == .q4_K { type = .q5_K }
                    attentionV += 1
                } else if name.contains("ffn_down") {
                    if (self == .q4_k_m || self == .q5_k_m) && Self.moreBits(ffnDown, layers) {
                        type = .q6_K
                    } else if self == .q4_k_s && ffnDown < layers / 8 {
                        type = .q5_K
                    } else if (self == .q4_0 || self == .q5_0) && hasImportance && ffnDown < layers / 8 {
                        type = self == .q4_0 ? .q4_1 : .q5_1
                    }
                    ffnDown += 1
                }
                types[index] = Self.fallback(type, columns: columns)
            }
            return types
        }

        /// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third one between.
        static func moreBits(_ layer: Int, _ count: Int) -> Bool {
            layer < count / 8 || layer >= 7 * count / 8 || (layer - count / 8) % 3 == 2
        }

        /// llama.cpp's `tensor_type_fallback` for a row of `columns` elements.
        static func fallback(_ type: GGUFTensorType, columns: Int) -> GGUFTensorType {
            guard columns % type.blockSize != 0 else { return type }
            let smaller: GGUFTensorType = switch type {
            case .q4_K: .q5_0
            case .q5_K: .q5_1
            case .q6_K: .q8_0
            default: type
            }
            return columns % smaller.blockSize == 0 ? smaller : .f16
        }

        /// The order llama.cpp walks a model's tensors in (its loader's `weight_name_comparer`): by the layer number of
        /// `blk.N.` (other tensors first), then by name; the attn_v and ffn_down counters above count in this order.
        static func llamaOrder(_ names: [String]) -> [Int] {
            func layer(_ name: String) -> Int {
                guard name.hasPrefix("blk."), let number = name.dropFirst(4).split(separator: ".").first, let n = Int(number) else { return -1 }
                return n
            }
            return names.indices.sorted { a, b in
                let (la, lb) = (layer(names[a]), layer(names[b]))
                return la != lb ? la < lb : Array(names[a].utf8).lexicographicallyPrecedes(Array(names[b].utf8))
            }
        }
    }
}
