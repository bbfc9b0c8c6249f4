import Foundation

/// A model's chat template as mop renders it: the format recognised from the template's text (no Jinja engine), plus
/// what that text says beyond the format (a default system message, a BOS token, a system role). `render` gives what
/// transformers' `apply_chat_template` gives for the same messages with the generation prompt added (design.md's
/// tokenizer section; docs/results/tokenizers.md#chat-templates).
public struct ChatTemplate: Equatable, Sendable {
    public let format: ChatFormat
    /// ChatML's system turn that the template writes when the conversation has none (SmolLM2, Qwen2.5).
    public let defaultSystemMessage: String?
    /// Whether the template writes the BOS token's text (`bos_token`): at the start, or for `llama2-sys-strip` before
    /// every `[INST]`. The rendered text is then encoded without adding special tokens, as transformers does.
    public let rendersBos: Bool
    /// False for a Phi-3 template without a system role (Phi-3-mini's first one), which leaves system messages out.
    public let keepsSystemMessages: Bool
    /// LLaMA-3.1's "Today Date" in its system header: the template's `date_string` default, which transformers
    /// renders since `apply_chat_template` passes no date ("26 Jul 2024" in the reference template).
    public let todayDate: String?

    /// The format of a model's template, read from its text as llama.cpp reads it; `file` names the model for errors.
    public init(recognizing text: String, file: String) throws {
        format = try ChatTemplateRecognition.format(of: text, file: file)
        defaultSystemMessage = format == .chatml ? Self.defaultSystemMessage(text) : nil
        rendersBos = text.contains("bos_token")
        keepsSystemMessages = format != .phi3 || text.contains("system")
        todayDate = format == .llama31 ? Self.defaultDate(text) : nil
    }

    /// `format` as its reference template renders it (ChatFormat's documentation names each one).
    public init(_ format: ChatFormat) {
        self.format = format
        defaultSystemMessage = nil
        rendersBos = ![.chatml, .phi3, .vicuna, .vicunaOrca].contains(format)
        keepsSystemMessages = true
        todayDate = format == .llama31 ? "26 Jul 2024" : nil
    }

    /// What `mop generate --chat` wraps a prompt in: the format named by `--chat-template` when there is one, else
    /// the model's own template recognised; `file` names the model for errors.
    public static func choose(named: ChatFormat?, modelTemplate: String?, file: String) throws -> ChatTemplate {
        if let named { return ChatTemplate(named) }
        guard let modelTemplate else {
            throw MopError(file: file, "the model has no chat template (omit --chat, or choose one with --chat-template: \(ChatFormat.names))")
        }
        return try ChatTemplate(recognizing: modelTemplate, file: file)
    }

    /// The literal default of LLaMA-3.1's `{%- set date_string = "..." %}`, nil when the template has none.
    static func defaultDate(_ template: String) -> String? {
        for quote in ["\"", "'"] {
            guard let start = template.range(of: "set date_string = " + quote),
                  let end = template.range(of: quote, range: start.upperBound..<template.endIndex) else { continue }
            return String(template[start.upperBound..<end.lowerBound])
        }
        return nil
    }

    /// The literal message of a `<|im_start|>system\n...<|im_end|>` the template writes, if it has one; the newline
    /// may be a character or the two characters `\n` of a Jinja string literal. System turns built from variables
    /// (Qwen2.5 writes one before its literal default) are passed over.
    static func defaultSystemMessage(_ template: String) -> String? {
        for opening in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            var searchStart = template.startIndex
            while let start = template.range(of: opening, range: searchStart..<template.endIndex) {
                searchStart = start.upperBound
                guard let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) else { break }
                let message = template[start.upperBound..<end.lowerBound]
                if !message.contains("{") && !message.contains("'") && !message.contains("\"") {
                    return String(message).replacingOccurrences(of: "\\n", with: "\n")
                }
            }
        }
        return nil
    }
}
