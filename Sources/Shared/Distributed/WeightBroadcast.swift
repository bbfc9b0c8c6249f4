import Foundation

/// `--broadcast-weights` (docs/design.md#weights-on-every-rank): rank 0 reads the model and every other rank receives
/// it over the communicator, so nodes need no shared filesystem. First a `modelHeader` message (shape, tokenizer,
/// format and the checksum of each part's weights), then every tensor in `ModelWeights.expectedShapes` order: its
/// encoding (a ggml type id, or `fp32`), then its values, as stored for a matrix kept as stored (a 4-bit model crosses
/// the wire and lands in its own size) or as fp32; each receiver checks the checksum of what it rebuilt (the fp32
/// values) against the header's.
///
/// With a pipeline layout each stage receives only its part (`ModelPart`): for stage s, rank 0 and the ranks of
/// stage s form a communicator and rank 0 broadcasts the part's tensors over it; a rank's other tensors are absent.
public enum WeightBroadcast {
    /// What crosses the wire before the tensors. Floats travel as bit patterns so they arrive exact.
    struct Header: Codable, Equatable {
        var architecture: String
        var vocabSize: Int
        var hidden: Int
        var headDim: Int
        var layers: [LayerShape]
        var rmsNormEpsBits: UInt32
        var ropeThetaBits: UInt32
        /// factor, low-frequency factor, high-frequency factor (bit patterns), original max positions.
        var ropeScaling: [UInt32]?
        var tiedEmbeddings: Bool
        var maxPositions: Int
        /// Per layer: RoPE base (bit pattern) and sliding window (0: global), when layers differ in how they attend.
        var layerAttention: [[UInt32]]?
        var attentionScaleBits: UInt32?
        var rotaryDims: Int?
        var finalLogitSoftCapBits: UInt32?
        var tokenizer: Tokenizer?
        var format: String
        /// `ModelChecksum` of each part's weights (one part, the whole model, without stages).
        var checksums: [UInt64]

        struct Tokenizer: Codable, Equatable {
            var model: String
            var vocabulary: [String]
            var merges: [String]
            var preTokenizer: String
            var specialTokenIds: [Int32]
            /// Bit patterns: JSON has no infinities, which scores may hold.
            var scoreBits: [UInt32]
            var tokenTypes: [TokenType]
            var bosTokenId: Int32?
            var eosTokenId: Int32?
            var addBos: Bool
            var addEos: Bool
            var dummyPrefix: String
            var mergePriority: String
            var chatTemplate: String?
            var padTokenId: Int32?
            var unkTokenId: Int32?
        }

        init(_ model: LoadedModel, checksums: [UInt64]) {
            let c = model.weights.config
            architecture = c.architecture.name
            vocabSize = c.vocabSize
            hidden = c.hidden
            headDim = c.headDim
            layers = c.layers
            rmsNormEpsBits = c.rmsNormEps.bitPattern
            ropeThetaBits = c.ropeTheta.bitPattern
            ropeScaling = c.ropeScaling.map {
                [$0.factor.bitPattern, $0.lowFreqFactor.bitPattern, $0.highFreqFactor.bitPattern, UInt32($0.originalMaxPositions)]
            }
            tiedEmbeddings = c.tiedEmbeddings
            maxPositions = c.maxPositions
            layerAttention = c.layerAttention.map { $0.map { [$0.ropeTheta.bitPattern, UInt32($0.window ?? 0)] } }
            attentionScaleBits = c.attentionScale?.bitPattern
            rotaryDims = c.rotaryDims
            finalLogitSoftCapBits = c.finalLogitSoftCap?.bitPattern
            tokenizer = model.tokenizer.map {
                Tokenizer(model: $0.model.rawValue, vocabulary: $0.vocabulary, merges: $0.merges,
                          preTokenizer: $0.preTokenizer.name, specialTokenIds: $0.specialTokenIds,
                          scoreBits: $0.scores.map(\.bitPattern), tokenTypes: $0.tokenTypes, bosTokenId: $0.bosTokenId, eosTokenId: $0.eosTokenId,
                          addBos: $0.addBos, addEos: $0.addEos, dummyPrefix: $0.dummyPrefix.rawValue,
                          mergePriority: $0.mergePriority.rawValue,
                          chatTemplate: $0.chatTemplate, padTokenId: $0.padTokenId, unkTokenId: $0.unkTokenId)
            }
            format = model.format.rawValue
            self.checksums = checksums
        }

        func encoded() -> [UInt8] { MessageEnvelope.seal(.modelHeader, MessageEnvelope.json(self)) }

        static func decode(_ bytes: [UInt8]) throws -> Header {
            let payload = try MessageEnvelope.open(bytes, expecting: .modelHeader, from: "rank 0")
            let header: Header
            do { header = try JSONDecoder().decode(Header.self, from: Data(payload)) } catch {
                throw MopError("malformed model header from rank 0: \(error)")
            }
            guard Architecture.named(header.architecture) != nil else {
                throw MopError("malformed model header from rank 0: unknown architecture \(PrintableText.quote(header.architecture))")
            }
            guard header.ropeScaling.map({ $0.count == 4 }) ?? true else {
                throw MopError("malformed model header from rank 0: rope scaling needs 4 values")
            }
            guard header.layerAttention.map({ $0.allSatisfy { $0.count == 2 } }) ?? true else {
                throw MopError("malformed model header from rank 0: layer attention needs 2 values per layer")
            }
            try header.config.validate(file: "<model header from rank 0>")
            return header
        }

        var config: ModelConfig {
            ModelConfig(vocabSize: vocabSize, hidden: hidden, headDim: headDim, layers: layers,
                        rmsNormEps: Float(bitPattern: rmsNormEpsBits), ropeTheta: Float(bitPattern: ropeThetaBits),
                        ropeScaling: ropeScaling.map {
                            RopeScaling(factor: Float(bitPattern: $0[0]), lowFreqFactor: Float(bitPattern: $0[1]),
                                        highFreqFactor: Float(bitPattern: $0[2]), originalMaxPositions: Int($0[3]))
                        },
                        tiedEmbeddings: tiedEmbeddings, maxPositions: maxPositions,
                        architecture: Architecture.named(architecture) ?? .llama,
                        layerAttention: layerAttention.map { $0.map {
                            LayerAttention(ropeTheta: Float(bitPattern: $0[0]), window: $0[1] == 0 ? nil : Int($0[1]))
                        } },
                        attentionScale: attentionScaleBits.map { Float(bitPattern: $0) }, rotaryDims: rotaryDims,
                        finalLogitSoftCap: finalLogitSoftCapBits.map { Float(bitPattern: $0) })
        }

        func modelFormat() throws -> ModelFormat {
            guard let format = ModelFormat(rawValue: format) else {
                throw MopError("malformed model header from rank 0: unknown model format \(format)")
            }
            return format
        }

        func tokenizerSpec() throws -> TokenizerSpec? {
            try tokenizer.map {
                guard let model = TokenizerModel(rawValue: $0.model) else {
                    throw MopError("malformed model header from rank 0: unknown tokenizer model \($0.model)")
                }
                guard let kind = PreTokenizerKind.named($0.preTokenizer) else {
                    throw MopError("malformed model header from rank 0: unknown pre-tokenizer \($0.preTokenizer)")
                }
                guard let prefix = DummyPrefix(rawValue: $0.dummyPrefix),
                      let priority = MergePriority(rawValue: $0.mergePriority) else {
                    throw MopError("malformed model header from rank 0: unknown dummy prefix \($0.dummyPrefix) or merge "
                                   + "priority \($0.mergePriority)")
                }
                return TokenizerSpec(model: model, vocabulary: $0.vocabulary, merges: $0.merges, preTokenizer: kind,
                                     specialTokenIds: $0.specialTokenIds,
                                     scores: $0.scoreBits.map(Float.init(bitPattern:)), tokenTypes: $0.tokenTypes,
                                     bosTokenId: $0.bosTokenId, eosTokenId: $0.eosTokenId, addBos: $0.addBos,
                                     addEos: $0.addEos, dummyPrefix: prefix, mergePriority: priority,
                                     chatTemplate: $0.chatTemplate, padTokenId: $0.padTokenId, unkTokenId: $0.unkTokenId)
            }
        }
    }

    /// The encoding id of a tensor sent as fp32 values (not a ggml type id).
    static let fp32Encoding: UInt32 = 0xFFFF_FFFF

    private static func encodingBytes(_ code: UInt32) -> [UInt8] { withUnsafeBytes(of: code.littleEndian) { Array($0) } }

    /// A collective: rank 0 passes the model it loaded, the other ranks nil. Returns the model (with `layout`, a
    /// receiving rank's tensors outside its stage's part are absent; rank 0 keeps what it loaded), the checksum of the
    /// weights this rank holds for its stage (the whole model's without a layout) and the bytes broadcast.
    public static func share(_ model: LoadedModel?, layout: PipelineLayout? = nil, communicator: any Communicator) throws
        -> (model: LoadedModel, checksum: UInt64, bytes: Int) {
        precondition(communicator.isCoordinator == (model != nil), "rank 0 and only rank 0 has the model")
        let rank = communicator.rank, stage = layout?.stage(ofRank: rank) ?? 0
        func parts(_ config: ModelConfig) -> [ModelPart] { layout?.parts(config) ?? [.whole(layers: config.layers.count)] }
        var headerBytes = model.map { model in
            Header(model, checksums: parts(model.weights.config).map { ModelChecksum.of(model.weights, part: $0) }).encoded()
        } ?? []
        communicator.broadcast(&headerBytes, root: 0)
        var bytes = headerBytes.count
        let header = try model == nil ? Header.decode(headerBytes) : nil
        let config = model?.weights.config ?? header!.config
        let allParts = parts(config)
        guard header.map({ $0.checksums.count == allParts.count }) ?? true else {
            throw MopError("malformed model header from rank 0: \(header!.checksums.count) checksums for \(allParts.count) stages")
        }
        let sending = model.map { Dictionary(uniqueKeysWithValues: $0.weights.namedTensors().map { ($0.name, $0.tensor) }) }
        var tensors: [String: Tensor] = [:]
        for (index, part) in allParts.enumerated() {
            // Rank 0 (key 0) roots every part's communicator.
            let group = allParts.count == 1 ? communicator
                : communicator.split(color: rank == 0 || stage == index ? 0 : 1, key: rank)
            guard rank == 0 || stage == index else { continue }
            for (name, shape) in ModelWeights.expectedShapes(config) where part.holds(name, config: config) {
                if let sending {
                    bytes += send(sending[name]!, over: group)
                } else {
                    tensors[name] = try receive(name, shape: shape, over: group, bytes: &bytes)
                }
            }
        }
        if let model { return (model, ModelChecksum.of(model.weights, part: allParts[stage]), bytes) }
        for (name, shape) in ModelWeights.expectedShapes(config) where tensors[name] == nil {
            tensors[name] = Tensor(absent: shape)
        }
        let weights = try ModelWeights(config: config, tensors: tensors, file: "<weights from rank 0>")
        let received = ModelChecksum.of(weights, part: allParts[stage])
        guard received == header!.checksums[stage] else {
            throw MopError("the weights received from rank 0 have checksum \(ModelChecksum.hex(received)), "
                           + "rank 0 sent \(ModelChecksum.hex(header!.checksums[stage]))")
        }
        let loaded = LoadedModel(weights: weights, tokenizer: try header!.tokenizerSpec(), format: try header!.modelFormat())
        return (loaded, received, bytes)
    }

    /// Rank 0: one tensor, its encoding then its values. Returns the bytes sent.
    private static func send(_ tensor: Tensor, over group: any Communicator) -> Int {
        if let stored = tensor.stored, var rows = stored.encodedRows() {
            var encoding = encodingBytes(stored.type.rawValue)
            group.broadcast(&encoding, root: 0)
            group.broadcast(&rows, root: 0)
            return encoding.count + rows.count
        }
        var encoding = encodingBytes(fp32Encoding), data = tensor.data
        group.broadcast(&encoding, root: 0)
        group.broadcast(&data, root: 0)
        return encoding.count + data.count * MemoryLayout<Float>.size
    }

    /// A receiving rank: the tensor `name` of `shape` as rank 0 sends it (`send`).
    private static func receive(_ name: String, shape: [Int], over group: any Communicator, bytes: inout Int) throws -> Tensor {
        var encoding: [UInt8] = []
        group.broadcast(&encoding, root: 0)
        guard encoding.count == 4 else { throw MopError("malformed weights from rank 0: tensor \(name) has no encoding") }
        let code = encoding.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        bytes += encoding.count
        if code == fp32Encoding {
            var data: [Float] = []
            group.broadcast(&data, root: 0)
            bytes += data.count * MemoryLayout<Float>.size
            guard data.count == shape.reduce(1, *) else {
                throw MopError("malformed weights from rank 0: tensor \(name) has \(data.count) values for shape \(shape)")
            }
            return Tensor(shape: shape, data: data)
        }
        var rows: [UInt8] = []
        group.broadcast(&rows, root: 0)
        bytes += rows.count
        guard let type = GGUFTensorType(rawValue: code), shape.count == 2,
              let matrix = StoredMatrix.encoded(rows, type: type, rows: shape[0], columns: shape[1], name: "<weights from rank 0>") else {
            throw MopError("malformed weights from rank 0: tensor \(name) of shape \(shape) in encoding \(code) does not decode")
        }
        return Tensor(stored: matrix)
    }
}
