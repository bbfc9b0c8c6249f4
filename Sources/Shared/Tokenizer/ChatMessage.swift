/// One turn of a conversation, as transformers' `apply_chat_template` takes it (`{"role": ..., "content": ...}`).
public struct ChatMessage: Equatable, Sendable {
    public enum Role: String, Sendable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}
