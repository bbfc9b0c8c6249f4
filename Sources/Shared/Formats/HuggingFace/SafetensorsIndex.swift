import Foundation

/// A sharded safetensors checkpoint: `model.safetensors.index.json`, whose `weight_map` names the shard file
/// (in the same directory) holding each tensor. Every shard is opened and mapped when the index is loaded.
public struct SafetensorsIndex: Sendable {
    /// The index file.
    public let path: String
    /// Tensor name -> shard file name, as in the index.
    public let weightMap: [String: String]
    /// Opened shards by file name.
    public let shards: [String: SafetensorsFile]

    public init(path: String) throws {
        self.path = path
        func fail(_ problem: String) -> MopError { MopError(file: path, problem) }
        let data = try RegularFile.read(path)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw fail("index is not valid JSON")
        }
        guard let object = json as? [String: Any], let map = object["weight_map"] as? [String: Any] else {
            throw fail("index has no weight_map object")
        }
        var weightMap: [String: String] = [:]
        for (name, value) in map {
            // Shards must sit beside the index: a path could reach outside the model directory.
            guard let shard = value as? String, !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw fail("weight_map entry for \(name) is not a plain shard file name")
            }
            weightMap[name] = shard
        }
        let directory = (path as NSString).deletingLastPathComponent
        var shards: [String: SafetensorsFile] = [:]
        for shard in Set(weightMap.values).sorted() {
            let shardPath = (directory as NSString).appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: shardPath) else { throw fail("shard \(shard) named in weight_map is missing") }
            shards[shard] = try SafetensorsFile(path: shardPath)
        }
        for (name, shard) in weightMap where shards[shard]?.entry(named: name) == nil {
            throw MopError(file: shards[shard]?.path ?? shard, "tensor \(name) listed in \(path) is missing from the shard")
        }
        self.weightMap = weightMap
        self.shards = shards
    }

    /// The tensor `name` (a matrix held as `storage` says), or nil when the index does not list it.
    public func tensor(named name: String, storage: WeightStorage = .fp32) throws -> Tensor? {
        guard let shard = weightMap[name], let file = shards[shard] else { return nil }
        return try file.tensor(named: name, storage: storage)
    }

    /// Every tensor the index lists, converted to fp32.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in weightMap.keys {
            result[name] = try tensor(named: name)
        }
        return result
    }
}
