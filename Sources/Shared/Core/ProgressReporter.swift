import Foundation

/// Progress of long work on stderr: what, how far, elapsed and ETA. Results never go to stderr; progress never goes
/// to stdout. Redraws in place on a terminal; elsewhere (logs, CI) prints a line at most every few seconds.
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let enabled: Bool
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) != 0

    public init(_ label: String, total: Int, unit: String, enabled: Bool = true) {
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
    }

    public func update(_ done: Int) {
        guard enabled else { return }
        let now = Date()
        let finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= (interactive ? 0.2 : 5) else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : .nan
        var line = "\(label): \(done)/\(total) \(unit), \(Self.format(elapsed)) elapsed"
        if !finished && eta.isFinite { line += ", ETA \(Self.format(eta))" }
        let text = interactive ? "\r\u{1B}[K" + line + (finished ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func format(_ seconds: Double) -> String {
        seconds < 90 ? String(format: "%.1f s", seconds) : String(format: "%ldm%02lds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
