/// swift-argument-parser reads every token that starts with "-" as an option name, so `--target -1` failed as
/// "Missing value for '--target <target>'", which is false. An option followed by a negative number is joined into
/// `--target=-1`, which the parser reads as the value; the option's own check then says what is wrong with it.
/// No mop option or positional argument is legitimately a bare negative number otherwise, and flags are never
/// followed by one.
enum NegativeNumbers {
    static func joined(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), argument.count > 2, !argument.contains("="), index + 1 < arguments.count,
               isNegativeNumber(arguments[index + 1]) {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    static func isNegativeNumber(_ text: String) -> Bool {
        text.count > 1 && text.hasPrefix("-") && Double(text) != nil
    }
}
