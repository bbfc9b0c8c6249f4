import CFaults

/// What ends the process when a mapped file shrinks under it (a model re-copied in place on a shared filesystem):
/// reading a lost page raises SIGBUS, which would otherwise crash with a backtrace, or hang when several BLAS
/// threads fault at once and the backtracer deadlocks. The handler is C (CFaults' mop_faults.h), since a signal
/// handler may only make async-signal-safe calls: it prints `PREFIX FILE: the file changed while it was in use (now N
/// bytes, was M)`, removes this process's partial files (TemporaryFiles) and exits with 1, the exit of every other
/// error (docs/design.md#error-messages).
public enum MappedFileFaults {
    /// Installs the handler. Call it after MPI_Init, which installs OpenMPI's own SIGBUS handler, so this one wins;
    /// `errorPrefix` starts the line as RunSupport starts its errors.
    public static func install(errorPrefix: String) {
        mop_faults_install(errorPrefix)
    }

    /// The error for a system call that failed with EFAULT reading `address` (writing an output from the mapped
    /// weights, say): a shrunk file makes the kernel return EFAULT where a read in the process faults. Nil when no
    /// guarded mapping holds `address`, or the file has not shrunk.
    public static func changedFileError(at address: UnsafeRawPointer) -> MopError? {
        var path: UnsafePointer<CChar>?
        var was: Int64 = 0, now: Int64 = 0
        guard mop_faults_mapping_at(address, &path, &was, &now) == 1, let path, now >= 0, now < was else { return nil }
        return MopError(file: String(cString: path), "the file changed while it was in use (now \(now) bytes, was \(was))")
    }
}
