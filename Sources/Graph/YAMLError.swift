/// A YAML loading error located in its file; prints as `FILE:LINE:COL: error: MESSAGE`.
public struct YAMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public init(path: String, mark: YAMLMark, message: String) {
        self.init(path: path, line: mark.line, column: mark.column, message: message)
    }

    public var mark: YAMLMark { YAMLMark(line: line, column: column) }

    public var description: String { "\(path):\(line):\(column): error: \(message)" }
}
