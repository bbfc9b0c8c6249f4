import Foundation
import Shared

/// A job of `size` ranks as threads of the test process, so that a whole protocol (every rank's side at once, and
/// communicators made by `split`) runs without mpirun. Every collective is one exchange: each rank deposits its
/// value, the last to arrive publishes all of them, and each rank takes what the collective gives it. Reductions add
/// in rank order. Point-to-point messages go through mailboxes, one queue per (source, destination, tag); a send
/// does not wait for its receive.
public final class ThreadedCluster: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var deposits: [Any?]
    private var arrived = 0
    private var published: [Any?] = []
    private var generation = 0
    /// Communicators made by splits, by (the exchange that made them, color).
    private var parts: [String: ThreadedCluster] = [:]
    /// Messages sent and not yet received, by "source/destination/tag", oldest first.
    private var mailboxes: [String: [[UInt8]]] = [:]

    init(size: Int) {
        self.size = size
        deposits = Array(repeating: nil, count: size)
    }

    /// Runs `body` on every rank, each on its own thread, and returns their results by rank (rethrowing the first
    /// error). A rank that never returns hangs the test: keep protocols short.
    public static func run<T: Sendable>(ranks: Int, _ body: @escaping @Sendable (any Communicator) throws -> T) throws -> [T] {
        let cluster = ThreadedCluster(size: ranks)
        let results = Locked<[Int: Result<T, Error>]>([:])
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            let thread = Thread {
                let result = Result { try body(Rank(rank: rank, cluster: cluster)) }
                results.update { $0[rank] = result }
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try (0..<ranks).map { try results.value[$0]!.get() }
    }

    /// Every rank's deposit, by rank, and the number of this exchange (the same on every rank).
    fileprivate func exchange(rank: Int, _ value: Any?) -> (values: [Any?], generation: Int) {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        deposits[rank] = value
        arrived += 1
        if arrived == size {
            // No rank can start the next exchange's publication before every waiter has read this one: the
            // next one needs every rank to arrive.
            published = deposits
            deposits = Array(repeating: nil, count: size)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return (published, mine)
    }

    fileprivate func post(_ bytes: [UInt8], from source: Int, to destination: Int, tag: Int) {
        condition.lock()
        defer { condition.unlock() }
        mailboxes["\(source)/\(destination)/\(tag)", default: []].append(bytes)
        condition.broadcast()
    }

    fileprivate func take(from source: Int, to destination: Int, tag: Int) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        let key = "\(source)/\(destination)/\(tag)"
        while mailboxes[key, default: []].isEmpty { condition.wait() }
        return mailboxes[key]!.removeFirst()
    }

    fileprivate func part(_ name: String, size: Int) -> ThreadedCluster {
        condition.lock()
        defer { condition.unlock() }
        if let part = parts[name] { return part }
        let part = ThreadedCluster(size: size)
        parts[name] = part
        return part
    }

    struct Rank: Communicator {
        let rank: Int
        let cluster: ThreadedCluster
        var size: Int { cluster.size }

        func barrier() { _ = cluster.exchange(rank: rank, nil) }

        func broadcast(_ bytes: inout [UInt8], root: Int) {
            bytes = cluster.exchange(rank: rank, rank == root ? bytes : nil).values[root] as! [UInt8]
        }

        func broadcast(_ values: inout [Float], root: Int) {
            values = cluster.exchange(rank: rank, rank == root ? values : nil).values[root] as! [Float]
        }

        func allreduceSum(_ values: inout [Double]) { values = sum(values) }
        func allreduceSum(_ values: inout [Float]) { values = sum(values) }

        func reduceSum(_ values: inout [Double], root: Int) {
            let total = sum(values)
            if rank == root { values = total }
        }

        private func sum<T: FloatingPoint>(_ values: [T]) -> [T] {
            let all = cluster.exchange(rank: rank, values).values.map { $0 as! [T] }
            return all.dropFirst().reduce(all[0]) { zip($0, $1).map(+) }
        }

        func split(color: Int, key: Int) -> any Communicator {
            let (all, generation) = cluster.exchange(rank: rank, [color, key])
            let members = all.enumerated().compactMap { rank, value -> (key: Int, rank: Int)? in
                let pair = value as! [Int]
                return pair[0] == color ? (pair[1], rank) : nil
            }.sorted { ($0.key, $0.rank) < ($1.key, $1.rank) }
            let part = cluster.part("\(generation)/\(color)", size: members.count)
            return Rank(rank: members.firstIndex { $0.rank == rank }!, cluster: part)
        }

        func send(_ bytes: [UInt8], to destination: Int, tag: Int) { cluster.post(bytes, from: rank, to: destination, tag: tag) }
        func receive(from source: Int, tag: Int) -> [UInt8] { cluster.take(from: source, to: rank, tag: tag) }
        func abort(code: Int32) -> Never { fatalError("abort(\(code)) in a test") }
    }
}

/// A value threads share under a lock.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value { lock.withLock { stored } }

    public func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
