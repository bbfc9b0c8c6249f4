/// The chat format of a model, for wrapping one user prompt. Only the ChatML family (`<|im_start|>role\n...<|im_end|>`,
/// SmolLM2, Qwen) is implemented, as code keyed on the template text rather than a Jinja engine; a ChatML template's
/// default system message (the literal `<|im_start|>system\n...<|im_end|>` it inserts when the conversation has none)
/// is kept.
public enum ChatTemplate {
    /// `prompt` as the template's first user turn followed by the assistant's generation prompt.
    public static func wrap(_ prompt: String, template: String?, file: String) throws -> String {
        guard let template else { throw MopError(file: file, "the model has no chat template (omit --chat)") }
        guard template.contains("<|im_start|>") else {
            throw MopError(file: file, "unsupported chat template (only the ChatML <|im_start|> family is implemented)")
        }
        var text = ""
        if let system = defaultSystemMessage(template) { text += "<|im_start|>system\n\(system)<|im_end|>\n" }
        return text + "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n"
    }

    /// The literal system message of `<|im_start|>system\n...<|im_end|>` in the template, if it has one. The newline
    /// may be stored as a character or as the two characters `\n` of a Jinja string literal.
    static func defaultSystemMessage(_ template: String) -> String? {
        for opening in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            guard let start = template.range(of: opening), let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex)
            else { continue }
            let message = template[start.upperBound..<end.lowerBound]
            // A template that builds the system turn from variables has no literal message to reuse.
            if message.contains("{") || message.contains("'") { continue }
            return String(message)
        }
        return nil
    }
}
