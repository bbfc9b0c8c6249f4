import CFaults
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Model files are mapped, never read whole, so a 2 GB model
/// costs only the pages that are touched. Every access is bounds-checked and fails with an error naming the file.
/// A mapping is guarded (CFaults' mop_faults.h): if the file shrinks while it is mapped, the read of a lost page ends
/// the process with `mop: error: FILE: the file changed while it was in use` instead of a crash.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeRawPointer?
    /// True when `base` was allocated here (an in-memory copy) rather than mapped.
    private let owned: Bool
    /// The mapped file, open while it is mapped: the fault handler reads its size now through it (-1: none).
    private let descriptor: Int32
    /// The mapping's slot in the fault handler's table (-1: not guarded).
    private let guardSlot: Int32

    public init(path: String) throws {
        self.path = path
        let fd = try RegularFile.open(path)
        owned = false
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw MopError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        count = Int(info.st_size)
        if count == 0 {
            close(fd)
            (base, descriptor, guardSlot) = (nil, -1, -1)
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            close(fd)
            throw MopError(file: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        descriptor = fd
        guardSlot = mop_faults_guard_mapping(mapped, count, fd, Int64(count), path)
    }

    /// An in-memory file holding a copy of `bytes`, named `path` in errors: the fuzz harness parses mutated
    /// inputs without a file system round trip.
    public init(bytes: [UInt8], path: String) {
        self.path = path
        count = bytes.count
        owned = true
        (descriptor, guardSlot) = (-1, -1)
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        bytes.withUnsafeBytes { if let source = $0.baseAddress { copy.copyMemory(from: source, byteCount: bytes.count) } }
        base = UnsafeRawPointer(copy)
    }

    /// An in-memory file of `count` bytes that `fill` writes, named `path` in errors: weights converted at load
    /// (`--weights bf16`) live in one, with no second copy.
    public init(count: Int, path: String, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        self.path = path
        self.count = count
        owned = true
        (descriptor, guardSlot) = (-1, -1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 64)
        fill(UnsafeMutableRawBufferPointer(start: buffer, count: count))
        base = UnsafeRawPointer(buffer)
    }

    deinit {
        // Forgotten before the range is unmapped, so a later mapping at the same address is never misattributed.
        mop_faults_forget_mapping(guardSlot)
        if descriptor >= 0 { close(descriptor) }
        guard let base else { return }
        if owned { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The bytes [offset, offset + length), checked against the file's size; `what` names them in the error.
    public func bytes(at offset: Int, length: Int, what: String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw MopError(file: path, "\(what) at bytes \(offset)..<\(offset &+ length) is past the end of the file (\(count) bytes)")
        }
        return UnsafeRawBufferPointer(start: base.map { $0 + offset }, count: length)
    }

    /// A little-endian integer at `offset`.
    public func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, what: String) throws -> T {
        let raw = try bytes(at: offset, length: MemoryLayout<T>.size, what: what)
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }
}

/// A cursor over a mapped file, for sequential headers (GGUF metadata).
public struct FileCursor {
    public let file: MappedFile
    public var offset: Int

    public init(file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    public mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let value = try file.load(type, at: offset, what: what)
        offset += MemoryLayout<T>.size
        return value
    }

    public mutating func readBytes(_ length: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        let raw = try file.bytes(at: offset, length: length, what: what)
        offset += length
        return raw
    }
}
