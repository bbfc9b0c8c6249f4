/// The small interface every distributed part of mop talks through. The MPI implementation is the only one used
/// by the program (a process started without mpirun is rank 0 of 1); collective calls must be made by every rank
/// in the same order.
public protocol Communicator: Sendable {
    var rank: Int { get }
    var size: Int { get }

    func barrier()
    /// A barrier that sleeps while it waits, so ranks parked in it leave the cores to the one still working (rank 0
    /// timing a latency benchmark); `barrier` spins.
    func idleBarrier()
    /// Root's bytes end up on every rank (the other ranks' `bytes` are replaced, whatever their length).
    func broadcast(_ bytes: inout [UInt8], root: Int)
    func broadcast(_ values: inout [Float], root: Int)
    /// Element-wise sum over ranks, result on every rank.
    func allreduceSum(_ values: inout [Double])
    func allreduceSum(_ values: inout [Float])
    /// Element-wise sum over ranks, result on `root` (other ranks' values are left unspecified).
    func reduceSum(_ values: inout [Double], root: Int)
    func send(_ bytes: [UInt8], to destination: Int, tag: Int)
    func receive(from source: Int, tag: Int) -> [UInt8]
    /// Ends every rank of the job at once with `code`, after this rank has printed its reason (whichever
    /// communicator it is called on: a lost group must not leave the others waiting).
    func abort(code: Int32) -> Never
    /// A collective: the ranks that pass the same `color` form a new communicator, ranked by `key` (ties by rank).
    func split(color: Int, key: Int) -> any Communicator
}

extension Communicator {
    public var isCoordinator: Bool { rank == 0 }

    public func idleBarrier() { barrier() }

    /// Root's array of plain values (token ids, indices) on every rank.
    public func broadcast<T: BitwiseCopyable>(_ values: inout [T], root: Int) {
        var bytes = values.withUnsafeBytes { Array($0) }
        broadcast(&bytes, root: root)
        values = bytes.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    /// Root's token sequences on every rank (one broadcast of the lengths, one of the tokens), so only rank 0 needs
    /// to read the data file. Throws when the lengths do not add up to the tokens that arrived.
    public func broadcast(sequences: inout [[Int32]], root: Int) throws {
        var lengths = sequences.map { Int64($0.count) }
        var tokens = Array(sequences.joined())
        broadcast(&lengths, root: root)
        broadcast(&tokens, root: root)
        guard rank != root else { return }
        guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == Int64(tokens.count) else {
            throw MopError("malformed token sequences from rank \(root): \(lengths.count) lengths that do not add up "
                           + "to the \(tokens.count) tokens that arrived")
        }
        var start = 0
        sequences = lengths.map { length in
            defer { start += Int(length) }
            return Array(tokens[start..<(start + Int(length))])
        }
    }

    /// Every rank's `values` (the same count on every rank) on `root`, indexed by rank; [] on the other ranks.
    /// A collective: one reduce of a buffer in which each rank fills only its own slot.
    public func gather(_ values: [Double], root: Int) -> [[Double]] {
        let width = values.count
        var all = [Double](repeating: 0, count: width * size)
        all.replaceSubrange(width * rank..<width * (rank + 1), with: values)
        reduceSum(&all, root: root)
        guard rank == root else { return [] }
        return (0..<size).map { Array(all[width * $0..<width * ($0 + 1)]) }
    }
}
