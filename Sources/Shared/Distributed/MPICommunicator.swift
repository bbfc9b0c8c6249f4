import CMPI
import Foundation

/// `Communicator` over MPI_COMM_WORLD, or over a part of it made by `split`. Started without mpirun, MPI runs as a
/// singleton: rank 0 of 1. MPI can be initialised once per process, so the program makes exactly one world
/// communicator and passes it around.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let comm: MPI_Comm

    /// Initialises MPI (thread level MULTIPLE: Swift code may call from any thread).
    public convenience init() {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, Int32(MPI_THREAD_MULTIPLE), &provided)
        self.init(comm: MPI_COMM_WORLD)
    }

    private init(comm: MPI_Comm) {
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        MPI_Comm_size(comm, &size)
        self.rank = Int(rank)
        self.size = Int(size)
        self.comm = comm
    }

    public func split(color: Int, key: Int) -> any Communicator {
        var part: MPI_Comm?
        MPI_Comm_split(comm, Int32(color), Int32(key), &part)
        return MPICommunicator(comm: part!)
    }

    /// Call once at the end of a successful run.
    public func finalize() { MPI_Finalize() }

    public func barrier() { MPI_Barrier(comm) }

    public func idleBarrier() {
        var request: MPI_Request?
        MPI_Ibarrier(comm, &request)
        var done: Int32 = 0
        while true {
            MPI_Test(&request, &done, MPI_STATUS_IGNORE)
            if done != 0 { return }
            usleep(2_000)
        }
    }

    // MPI counts are Int32: large buffers go in chunks.
    private static let chunk = 1 << 30

    private func chunked(_ count: Int, _ body: (_ start: Int, _ length: Int32) -> Void) {
        var start = 0
        repeat {
            let length = min(Self.chunk, count - start)
            body(start, Int32(length))
            start += length
        } while start < count
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) {
        var length = Int64(bytes.count)
        MPI_Bcast(&length, 1, MPI_INT64_T, Int32(root), comm)
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        bytes.withUnsafeMutableBytes { raw in
            chunked(raw.count) { start, n in MPI_Bcast(raw.baseAddress! + start, n, MPI_BYTE, Int32(root), comm) }
        }
    }

    public func broadcast(_ values: inout [Float], root: Int) {
        var length = Int64(values.count)
        MPI_Bcast(&length, 1, MPI_INT64_T, Int32(root), comm)
        if rank != root { values = [Float](repeating: 0, count: Int(length)) }
        values.withUnsafeMutableBufferPointer { buffer in
            chunked(buffer.count) { start, n in MPI_Bcast(buffer.baseAddress! + start, n, MPI_FLOAT, Int32(root), comm) }
        }
    }

    public func allreduceSum(_ values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { buffer in
            chunked(buffer.count) { start, n in
                MPI_Allreduce(MPI_IN_PLACE, buffer.baseAddress! + start, n, MPI_DOUBLE, MPI_SUM, comm)
            }
        }
    }

    public func allreduceSum(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { buffer in
            chunked(buffer.count) { start, n in
                MPI_Allreduce(MPI_IN_PLACE, buffer.baseAddress! + start, n, MPI_FLOAT, MPI_SUM, comm)
            }
        }
    }

    public func reduceSum(_ values: inout [Double], root: Int) {
        values.withUnsafeMutableBufferPointer { buffer in
            chunked(buffer.count) { start, n in
                let address = buffer.baseAddress! + start
                if rank == root {
                    MPI_Reduce(MPI_IN_PLACE, address, n, MPI_DOUBLE, MPI_SUM, Int32(root), comm)
                } else {
                    MPI_Reduce(address, nil, n, MPI_DOUBLE, MPI_SUM, Int32(root), comm)
                }
            }
        }
    }

    public func send(_ bytes: [UInt8], to destination: Int, tag: Int) {
        var length = Int64(bytes.count)
        MPI_Send(&length, 1, MPI_INT64_T, Int32(destination), Int32(tag), comm)
        bytes.withUnsafeBytes { raw in
            chunked(raw.count) { start, n in
                MPI_Send(raw.baseAddress.map { $0 + start }, n, MPI_BYTE, Int32(destination), Int32(tag), comm)
            }
        }
    }

    public func receive(from source: Int, tag: Int) -> [UInt8] {
        var length: Int64 = 0
        MPI_Recv(&length, 1, MPI_INT64_T, Int32(source), Int32(tag), comm, MPI_STATUS_IGNORE)
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBytes { raw in
            chunked(raw.count) { start, n in
                MPI_Recv(raw.baseAddress.map { $0 + start }, n, MPI_BYTE, Int32(source), Int32(tag), comm, MPI_STATUS_IGNORE)
            }
        }
        return bytes
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(MPI_COMM_WORLD, code)
        fatalError("MPI_Abort returned")
    }
}
