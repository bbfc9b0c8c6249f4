/// The image features of an image-text calibration set on the ranks that use them
/// (docs/design.md#image-text-calibration): rank 0, which reads the calibration file and its images, runs the vision
/// tower once per image and broadcasts the features image by image, so a rank holds at most one image's it does not
/// keep; each rank keeps those of its own shard's sequences, with their values where it embeds (a whole-model rank or
/// a first pipeline stage) and as rows alone elsewhere (a later stage needs only to know which positions are no
/// prediction targets).
public enum ImageFeatureBroadcast {
    /// A collective. `images` (rank 0's: each calibration sequence's image, nil for a text one; ignored elsewhere)
    /// and `features(i)` (rank 0: the projected features [rows, hidden] of sequence i's image) become, on every rank,
    /// the feature rows of the sequences in `shard`, indexed from its start; `embeds` says whether this rank keeps
    /// the values.
    public static func share(images: [CalibrationSet.Image?], shard: Range<Int>, embeds: Bool, hidden: Int,
                             communicator: any Communicator, features: (Int) throws -> [Float]) throws -> [FeatureRows?] {
        var places: [Int64] = images.flatMap { image -> [Int64] in
            guard let image else { return [-1, -1] }
            return [Int64(image.rows.lowerBound), Int64(image.rows.upperBound)]
        }
        communicator.broadcast(&places, root: 0)
        guard places.count % 2 == 0, places.count / 2 >= shard.upperBound else {
            throw MopError("malformed image places from rank 0: \(places.count) values for \(shard.upperBound) or more sequences")
        }
        var kept = [FeatureRows?](repeating: nil, count: shard.count)
        for sequence in 0..<(places.count / 2) where places[2 * sequence] >= 0 {
            guard places[2 * sequence + 1] >= places[2 * sequence] else {
                throw MopError("malformed image places from rank 0: rows \(places[2 * sequence]) to \(places[2 * sequence + 1])")
            }
            let rows = Int(places[2 * sequence])..<Int(places[2 * sequence + 1])
            var values = try communicator.isCoordinator ? features(sequence) : []
            communicator.broadcast(&values, root: 0)
            guard values.count == rows.count * hidden else {
                throw MopError("image features of calibration sequence \(sequence + 1) from rank 0: \(values.count) values for \(rows.count) rows of \(hidden)")
            }
            if shard.contains(sequence) {
                kept[sequence - shard.lowerBound] = FeatureRows(rows: rows, values: embeds ? values : [])
            }
        }
        return kept
    }
}
