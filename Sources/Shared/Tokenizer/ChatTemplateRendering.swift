/// Each format's rendering, written after its reference template (ChatFormat) and checked against what transformers
/// renders with it (ChatTemplateTests). Every prompt ends with the generation prompt, the assistant's turn opened.
extension ChatTemplate {
    /// The prompt for `messages`; `bosToken` and `eosToken` are the tokens' texts (nil: none, rendered as nothing,
    /// as Jinja renders an undefined token). A leading system message goes where the reference template puts it;
    /// where the reference refuses one (Gemma-2, the LLaMA-2 format without `<<SYS>>`), its text is folded into the
    /// first user message as llama.cpp does. Only the first message may be a system message, and user and assistant
    /// turns are expected to alternate (the templates raise otherwise; mop asks for one user turn).
    public func render(_ messages: [ChatMessage], bosToken: String?, eosToken: String?) -> String {
        let bos = bosToken ?? "", eos = eosToken ?? ""
        var system: String?
        var turns = messages[...]
        if let first = turns.first, first.role == .system {
            system = first.content
            turns = turns.dropFirst()
        }
        precondition(!turns.contains { $0.role == .system }, "a system message after the first turn")
        let start = rendersBos && format != .llama2SysStrip ? bos : ""
        return start + body(system: system, turns: Array(turns), bos: bos, eos: eos)
    }

    private func body(system: String?, turns: [ChatMessage], bos: String, eos: String) -> String {
        switch format {
        case .chatml:
            let opening = system ?? defaultSystemMessage
            return (opening.map { "<|im_start|>system\n\($0)<|im_end|>\n" } ?? "")
                + turns.map { "<|im_start|>\($0.role.rawValue)\n\($0.content)<|im_end|>\n" }.joined()
                + "<|im_start|>assistant\n"
        case .llama2:
            return folded(system, "\n", into: turns).map {
                $0.role == .user ? "[INST] \($0.content) [/INST]" : $0.content + eos
            }.joined()
        case .llama2SysStrip:
            return turns.enumerated().map { index, turn in
                var content = turn.content
                if index == 0, let system { content = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + content }
                let text = Self.strip(content)
                return turn.role == .user ? "\(rendersBos ? bos : "")[INST] \(text) [/INST]" : " \(text) \(eos)"
            }.joined()
        case .mistralV1:
            return turns.enumerated().map { index, turn in
                guard turn.role == .user else { return " \(turn.content)\(eos)" }
                let prefix = index == 0 ? system.map { $0 + "\n\n" } ?? "" : ""
                return " [INST] \(prefix)\(turn.content) [/INST]"
            }.joined()
        case .mistralV3, .mistralV3Tekken:
            let tekken = format == .mistralV3Tekken
            return turns.enumerated().map { index, turn in
                guard turn.role == .user else { return tekken ? turn.content + eos : " \(Self.strip(turn.content))\(eos)" }
                // The system text goes into the last user turn, the one the model answers.
                let prefix = index == turns.count - 1 ? system.map { $0 + "\n\n" } ?? "" : ""
                return (tekken ? "[INST]" : "[INST] ") + prefix + turn.content + "[/INST]"
            }.joined()
        case .mistralV7:
            return (system.map { "[SYSTEM_PROMPT] \($0)[/SYSTEM_PROMPT]" } ?? "")
                + turns.map { $0.role == .user ? "[INST] \($0.content)[/INST]" : " \($0.content)\(eos)" }.joined()
        case .llama3:
            return Self.headerTurns((system.map { [ChatMessage(.system, $0)] } ?? []) + turns)
        case .llama31:
            // The system turn is always written, its text after the dated preamble (trimmed; empty when none).
            let preamble = "Cutting Knowledge Date: December 2023\nToday Date: \(todayDate ?? "")\n\n"
            return "<|start_header_id|>system<|end_header_id|>\n\n\(preamble)\(Self.strip(system ?? ""))<|eot_id|>"
                + Self.headerTurns(turns)
        case .gemma:
            // Gemma-3's template puts the system text before the first turn's trimmed text; Gemma-2's refuses a
            // system message, and llama.cpp folds it the same way.
            return turns.enumerated().map { index, turn in
                let role = turn.role == .assistant ? "model" : turn.role.rawValue
                let prefix = index == 0 ? system.map { $0 + "\n\n" } ?? "" : ""
                return "<start_of_turn>\(role)\n\(prefix)\(Self.strip(turn.content))<end_of_turn>\n"
            }.joined() + "<start_of_turn>model\n"
        case .phi3:
            let opening = keepsSystemMessages ? system.flatMap { $0.isEmpty ? nil : "<|system|>\n\($0)<|end|>\n" } : nil
            return (opening ?? "") + turns.map { "<|\($0.role.rawValue)|>\n\($0.content)<|end|>\n" }.joined()
                + "<|assistant|>\n"
        case .vicuna, .vicunaOrca:
            let opening = system.map { format == .vicuna ? $0 + "\n\n" : "SYSTEM: \($0)\n" } ?? ""
            return opening + turns.map { $0.role == .user ? "USER: \($0.content)\n" : "ASSISTANT: \($0.content)</s>\n" }
                .joined() + "ASSISTANT:"
        }
    }

    /// LLaMA-3's turns, each message trimmed, then the assistant's header opened.
    private static func headerTurns(_ turns: [ChatMessage]) -> String {
        turns.map { "<|start_header_id|>\($0.role.rawValue)<|end_header_id|>\n\n\(strip($0.content))<|eot_id|>" }.joined()
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"
    }

    /// `turns` with `system` put before the first message's text, joined by `separator` (llama.cpp's rule for a
    /// template that has no place for a system message).
    private func folded(_ system: String?, _ separator: String, into turns: [ChatMessage]) -> [ChatMessage] {
        guard let system, var first = turns.first else { return turns }
        first.content = system + separator + first.content
        return [first] + turns.dropFirst()
    }

    /// Python's `str.strip()`, which Jinja's `trim` and the templates' `.strip()` call: whitespace is Unicode
    /// White_Space plus the four separators U+001C-U+001F that Python also counts.
    static func strip(_ text: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
