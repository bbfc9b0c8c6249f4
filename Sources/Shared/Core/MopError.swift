/// The one error type mop throws for bad input: a one-line message naming the file (when there is one) and the problem.
public struct MopError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String?
    public let problem: String

    public init(file: String? = nil, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        guard let file else { return problem }
        // `--text ""` reaches here as a file named by nothing; say so rather than print a bare colon.
        return file.isEmpty ? "\"\" (an empty path): \(problem)" : "\(file): \(problem)"
    }
}
