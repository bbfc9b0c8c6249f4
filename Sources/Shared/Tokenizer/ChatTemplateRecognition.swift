import Foundation

/// Which chat format a template's text is, recognised as llama.cpp's `llm_chat_detect_template` does: markers searched
/// in its order, the first rule that matches naming the format. Formats llama.cpp knows but mop does not render are
/// kept in the list (in place), so a template of theirs is refused by that name instead of falling through to a later
/// rule it also matches.
enum ChatTemplateRecognition {
    private struct Rule: Sendable {
        let name: String
        let matches: @Sendable (String) -> Bool
    }

    /// llama.cpp's rules up to the last format mop renders (LLaMA-3), in llama.cpp's order.
    private static let rules: [Rule] = [
        Rule(name: "phi4") { $0.contains("<|im_start|>") && $0.contains("<|im_sep|>") },
        Rule(name: "smolvlm") { $0.contains("<|im_start|>") && $0.contains("<end_of_utterance>") },
        Rule(name: "chatml") { $0.contains("<|im_start|>") },
        // mistralai's v7 templates; mop tells the Tekken one (no space after the marker) apart, llama.cpp does not.
        Rule(name: "mistral-v7") { isMistral($0) && $0.contains("[SYSTEM_PROMPT] ") },
        Rule(name: "mistral-v7-tekken") { isMistral($0) && $0.contains("[SYSTEM_PROMPT]") },
        Rule(name: "mistral-v1") { isOfficialMistral($0) && $0.contains(" [INST]") },
        Rule(name: "mistral-v3-tekken") { isOfficialMistral($0) && $0.contains("\"[INST]\"") },
        Rule(name: "mistral-v3") { isOfficialMistral($0) },
        Rule(name: "llama2-sys-strip") { isMistral($0) && $0.contains("content.strip()") },
        Rule(name: "llama2-sys-bos") { isMistral($0) && $0.contains("bos_token + '[INST]") },
        Rule(name: "llama2-sys") { isMistral($0) && $0.contains("<<SYS>>") },
        Rule(name: "llama2") { isMistral($0) },
        Rule(name: "phi3") { $0.contains("<|assistant|>") && $0.contains("<|end|>") },
        Rule(name: "chatglm4") { $0.contains("[gMASK]<sop>") },
        Rule(name: "falcon3") { $0.contains("<|assistant|>") && $0.contains("<|user|>") && $0.contains("</s>") },
        Rule(name: "glmedge") { $0.contains("<|assistant|>") && $0.contains("<|user|>") },
        Rule(name: "glmedge") { $0.contains("<|{{ item['role'] }}|>") && $0.contains("<|begin_of_image|>") },
        Rule(name: "zephyr") { $0.contains("<|user|>") && $0.contains("<|endoftext|>") },
        Rule(name: "monarch") { $0.contains("bos_token + message['role']") },
        Rule(name: "gemma") { $0.contains("<start_of_turn>") },
        Rule(name: "orion") { $0.contains("'\\n\\nAssistant: ' + eos_token") },
        Rule(name: "openchat") { $0.contains("GPT4 Correct ") },
        Rule(name: "vicuna-orca") { $0.contains("USER: ") && $0.contains("ASSISTANT: ") && $0.contains("SYSTEM: ") },
        Rule(name: "vicuna") { $0.contains("USER: ") && $0.contains("ASSISTANT: ") },
        Rule(name: "deepseek") { $0.contains("### Instruction:") && $0.contains("<|EOT|>") },
        Rule(name: "command-r") { $0.contains("<|START_OF_TURN_TOKEN|>") && $0.contains("<|USER_TOKEN|>") },
        Rule(name: "llama3") { $0.contains("<|start_header_id|>") && $0.contains("<|end_header_id|>") },
    ]

    /// `[INST]` templates (or a template that is just a Mistral name), llama.cpp's test before its Mistral variants.
    private static func isMistral(_ text: String) -> Bool { text.hasPrefix("mistral") || text.contains("[INST]") }

    /// mistralai's own v1 and v3 templates, as llama.cpp recognises them.
    private static func isOfficialMistral(_ text: String) -> Bool {
        isMistral(text) && (text.contains("' [INST] ' + system_message") || text.contains("[AVAILABLE_TOOLS]"))
    }

    /// The format of `text`; a template that is itself a format's name (llama.cpp accepts one in a GGUF) is that
    /// format. Throws, naming the template by its first characters, when no rule matches or the rule that matches is a
    /// format mop does not render.
    static func format(of text: String, file: String) throws -> ChatFormat {
        if let named = ChatFormat(rawValue: text) { return named }
        let choose = "choose one with --chat-template: \(ChatFormat.names)"
        guard let rule = rules.first(where: { $0.matches(text) }) else {
            throw MopError(file: file, "unrecognised chat template \(excerpt(text)) (\(choose))")
        }
        guard let format = ChatFormat(rawValue: rule.name) else {
            throw MopError(file: file, "the chat template \(excerpt(text)) is llama.cpp's \"\(rule.name)\", which mop does not render (\(choose))")
        }
        // LLaMA-3.1 and later write a dated "Cutting Knowledge Date" system header that LLaMA-3's format lacks: 3.1
        // with a fixed default date, 3.2 and 3.3 with today's (strftime_now), which mop does not render.
        if format == .llama3, text.contains("Cutting Knowledge Date") {
            // transformers passes strftime_now, so a template that calls it renders today's date.
            guard ChatTemplate.defaultDate(text) != nil, !text.contains("strftime_now") else {
                throw MopError(file: file, "the chat template \(excerpt(text)) dates its LLaMA-3 system header without a fixed date_string (LLaMA-3.2 and later use today's date), which mop does not render (\(choose))")
            }
            return .llama31
        }
        return format
    }

    /// The template's first characters, quoted, with line breaks shown as `\n`.
    static func excerpt(_ text: String, length: Int = 48) -> String {
        let head = text.prefix(length).replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(head)\(text.count > length ? "..." : "")\""
    }
}
