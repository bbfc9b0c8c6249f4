/// The chat formats mop renders, named as llama.cpp names them (`llama-chat.cpp`, `--chat-template NAME`). Each is
/// written after one published template, its reference, and renders what transformers renders with that template
/// (Tests/SharedTests/Fixtures/chat-templates.json, from scripts/make-chat-template-fixture.py).
public enum ChatFormat: String, CaseIterable, Equatable, Sendable {
    /// `<|im_start|>role\n...<|im_end|>\n`: SmolLM2, Qwen2.5 (with the default system message a template writes).
    case chatml
    /// `[INST] ... [/INST]` without a system turn: Mistral-7B-Instruct's template before mistralai's v1.
    case llama2
    /// LLaMA-2-chat: `<<SYS>>` in the first turn, BOS before every `[INST]`, messages stripped.
    case llama2SysStrip = "llama2-sys-strip"
    /// mistralai's v1 template (Mistral-7B-Instruct-v0.1): ` [INST] ` with spaces on both sides, system in the first turn.
    case mistralV1 = "mistral-v1"
    /// mistralai's v3 template (Mistral-7B-Instruct-v0.3): system in the last user turn, assistant turns trimmed.
    case mistralV3 = "mistral-v3"
    /// mistralai's v3 template for the Tekken tokenizer (Mistral-Nemo): v3 without the spaces or the trimming.
    case mistralV3Tekken = "mistral-v3-tekken"
    /// mistralai's v7 template (Mistral-Large-2411): `[SYSTEM_PROMPT] ...[/SYSTEM_PROMPT]` as its own turn.
    case mistralV7 = "mistral-v7"
    /// LLaMA-3-Instruct: `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`, messages trimmed.
    case llama3
    /// LLaMA-3.1-Instruct: LLaMA-3's turns after a system turn that is always written and opens with
    /// "Cutting Knowledge Date: December 2023\nToday Date: " and the template's `date_string` default (not a name
    /// of llama.cpp's, whose `llama3` leaves the dated header out).
    case llama31 = "llama3.1"
    /// Gemma-2/3-it: `<start_of_turn>user|model\n...<end_of_turn>\n`, system folded into the first user turn.
    case gemma
    /// Phi-3: `<|role|>\n...<|end|>\n`.
    case phi3
    /// Vicuna: `USER: ` / `ASSISTANT: ` lines, the system text as a paragraph before them.
    case vicuna
    /// Vicuna with a `SYSTEM: ` line (Orca-Vicuna).
    case vicunaOrca = "vicuna-orca"

    /// The names `--chat-template` takes, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
