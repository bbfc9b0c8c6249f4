import Foundation
import XCTest
@testable import Shared

/// Chat templates against the prompts transformers renders with each family's real template
/// (Tests/SharedTests/Fixtures/chat-templates.json, from scripts/make-chat-template-fixture.py).
final class ChatTemplateTests: XCTestCase {
    private struct Case {
        var messages: [ChatMessage]
        var prompt: String
        var raises: String?
    }

    private struct Entry {
        var name: String
        var format: String
        var template: String
        var bos: String?
        var eos: String?
        var cases: [String: Case]
    }

    private static func loadFixture() throws -> [Entry] {
        let url = RealInputs.fixture("chat-templates.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try XCTUnwrap(root["templates"] as? [[String: Any]]).map { entry in
            let tokens = try XCTUnwrap(entry["tokens"] as? [String: Any])
            let cases = try XCTUnwrap(entry["cases"] as? [String: [String: Any]]).mapValues { item in
                let messages = try XCTUnwrap(item["messages"] as? [[String: String]]).map { message in
                    ChatMessage(try XCTUnwrap(ChatMessage.Role(rawValue: message["role"] ?? "")), message["content"] ?? "")
                }
                return Case(messages: messages, prompt: try XCTUnwrap(item["prompt"] as? String),
                            raises: item["raises"] as? String)
            }
            return Entry(name: try XCTUnwrap(entry["name"] as? String), format: try XCTUnwrap(entry["format"] as? String),
                         template: try XCTUnwrap(entry["template"] as? String), bos: tokens["bos_token"] as? String,
                         eos: tokens["eos_token"] as? String, cases: cases)
        }
    }

    func testEveryFamilyRendersWhatTransformersRenders() throws {
        let entries = try Self.loadFixture()
        var formatsSeen = Set<ChatFormat>()
        for entry in entries {
            let template = try ChatTemplate(recognizing: entry.template, file: entry.name)
            XCTAssertEqual(template.format.rawValue, entry.format, entry.name)
            formatsSeen.insert(template.format)
            XCTAssertEqual(Set(entry.cases.keys), ["system", "no_system", "single"], entry.name)
            for (name, item) in entry.cases {
                XCTAssertEqual(template.render(item.messages, bosToken: entry.bos, eosToken: entry.eos), item.prompt,
                               "\(entry.name), \(name)")
            }
        }
        XCTAssertEqual(formatsSeen, Set(ChatFormat.allCases), "every format has a real template in the fixture")
    }

    /// The templates that refuse a system message are the two whose format folds it (llama.cpp's rule), and only
    /// for the conversation that has one.
    func testTemplatesThatRefuseASystemMessageAreTheFoldedOnes() throws {
        let refusing = try Self.loadFixture().flatMap { entry in
            entry.cases.filter { $0.value.raises != nil }.map { "\(entry.name) \($0.key)" }
        }
        XCTAssertEqual(Set(refusing), ["Mistral-7B-Instruct-v0.2 (before the v1 template) system", "gemma-2-2b-it system"])
    }

    /// `--chat-template NAME` renders as one of the fixture's real templates does (its reference).
    func testEveryNameRendersItsReferenceTemplate() throws {
        let entries = try Self.loadFixture()
        for format in ChatFormat.allCases {
            let named = ChatTemplate(format)
            let references = try entries.filter { try ChatTemplate(recognizing: $0.template, file: $0.name) == named }
            XCTAssertFalse(references.isEmpty, "\(format.rawValue) has no reference template in the fixture")
            for entry in references {
                for (name, item) in entry.cases {
                    XCTAssertEqual(named.render(item.messages, bosToken: entry.bos, eosToken: entry.eos), item.prompt,
                                   "\(format.rawValue) as \(entry.name), \(name)")
                }
            }
        }
    }

    func testChatMLDefaultSystemMessageIsTakenFromTheTemplate() throws {
        let entries = try Self.loadFixture()
        let smolLM2 = try XCTUnwrap(entries.first { $0.name == "SmolLM2-135M-Instruct" }).template
        let expected = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
        XCTAssertEqual(try ChatTemplate(recognizing: smolLM2, file: "m.gguf").defaultSystemMessage, expected)
        // The same template with Jinja-escaped newlines, as a tokenizer_config.json may store it.
        let escaped = smolLM2.replacingOccurrences(of: "\n", with: "\\n")
        XCTAssertEqual(try ChatTemplate(recognizing: escaped, file: "m.gguf").defaultSystemMessage, expected)
        // Qwen2.5 writes a system turn from a variable first; the literal default comes later.
        let qwen = try XCTUnwrap(entries.first { $0.name == "Qwen2.5-Coder-0.5B-Instruct" }).template
        XCTAssertEqual(try ChatTemplate(recognizing: qwen, file: "m.gguf").defaultSystemMessage,
                       "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
    }

    func testUnknownTemplateIsRefusedNamingIt() {
        XCTAssertThrowsError(try ChatTemplate(recognizing: "{{ messages }}", file: "m.gguf")) {
            XCTAssertEqual("\($0)", "m.gguf: unrecognised chat template \"{{ messages }}\" (choose one with --chat-template: \(ChatFormat.names))")
        }
        let long = "{% for m in messages %}\n{{ m['role'] + ': ' + m['content'] }}\n{% endfor %}"
        XCTAssertThrowsError(try ChatTemplate(recognizing: long, file: "m.gguf")) {
            XCTAssertTrue("\($0)".hasPrefix("m.gguf: unrecognised chat template \"{% for m in messages %}\\n{{ m['role'] + ': ' + m[...\""), "\($0)")
        }
    }

    /// Formats llama.cpp recognises but mop does not render are refused by llama.cpp's name, not taken for a later
    /// rule they also match (a Zephyr template is not Phi-3, a Phi-4 template is not ChatML).
    func testLlamaCppFormatsMopDoesNotRenderAreRefusedByName() {
        let templates = [
            ("phi4", "{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}"),
            ("zephyr", "{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}"),
            ("command-r", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{{ content }}"),
            ("llama2-sys-bos", "{{- bos_token + '[INST] ' + content + ' [/INST]' -}}{{ '<<SYS>>\\n' }}"),
            ("mistral-v7-tekken", "{{- '[SYSTEM_PROMPT]' + content + '[/SYSTEM_PROMPT]' }}{{ '[INST]' }}"),
        ]
        for (name, template) in templates {
            XCTAssertThrowsError(try ChatTemplate(recognizing: template, file: "m.gguf"), name) {
                XCTAssertTrue("\($0)".contains("is llama.cpp's \"\(name)\", which mop does not render"), "\($0)")
            }
        }
        // LLaMA-3.2's header takes today's date from strftime_now, which transformers defines; its fixed date is
        // only a fallback.
        let llama32 = "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- else %}"
            + "{%- set date_string = \"26 Jul 2024\" %}{%- endif %}<|start_header_id|>system<|end_header_id|>\\n\\n"
            + "Cutting Knowledge Date: December 2023\\nToday Date: {{ date_string }}<|eot_id|>"
        XCTAssertThrowsError(try ChatTemplate(recognizing: llama32, file: "m.gguf")) {
            XCTAssertTrue("\($0)".contains("without a fixed date_string"), "\($0)")
        }
    }

    func testChoiceByNameOrFromTheModel() throws {
        XCTAssertEqual(try ChatTemplate.choose(named: .gemma, modelTemplate: nil, file: "m.gguf"), ChatTemplate(.gemma))
        XCTAssertEqual(try ChatTemplate.choose(named: .vicuna, modelTemplate: "<|im_start|>", file: "m.gguf").format, .vicuna)
        XCTAssertEqual(try ChatTemplate.choose(named: nil, modelTemplate: "<|im_start|>", file: "m.gguf").format, .chatml)
        // A template that is a format's name, as llama.cpp accepts in a GGUF.
        XCTAssertEqual(try ChatTemplate(recognizing: "mistral-v3", file: "m.gguf").format, .mistralV3)
        XCTAssertThrowsError(try ChatTemplate.choose(named: nil, modelTemplate: nil, file: "m.gguf")) {
            XCTAssertTrue("\($0)".hasPrefix("m.gguf: the model has no chat template (omit --chat, or choose one with --chat-template: chatml, "), "\($0)")
        }
    }

    func testStripIsPythonsStrip() {
        XCTAssertEqual(ChatTemplate.strip(" \t\u{1C}a b\u{3000}\n\u{85}"), "a b")
        XCTAssertEqual(ChatTemplate.strip("\u{200B}a"), "\u{200B}a", "a zero-width space is not whitespace to Python")
        XCTAssertEqual(ChatTemplate.strip(" \n "), "")
    }
}
