import FoundationEssentials

/// A Docker answer that does not have the promised shape. `path` names the offending field, e.g.
/// `Images[3].Size`.
public struct ModelDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being decoded, e.g. `GET /system/df`.
    public var what: String
    /// The JSON path of the offending field (`Images[3].Size`); empty for the top level.
    public var path: String
    public var reason: String

    public init(what: String, path: String, reason: String) {
        self.what = what
        self.path = path
        self.reason = reason
    }

    public var description: String {
        "\(what): \(path.isEmpty ? "top level" : path): \(reason)"
    }
}

enum ModelJSON {
    /// Decodes `T`, turning Foundation's `DecodingError` into a ``ModelDecodingError`` that names
    /// the field.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(ModelDecodingError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as ModelDecodingError {
            throw error
        } catch let error as DecodingError {
            throw describe(error, what: what)
        } catch {
            throw ModelDecodingError(what: what, path: "", reason: "\(error)")
        }
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }

    static func describe(_ error: DecodingError, what: String) -> ModelDecodingError {
        switch error {
        case .typeMismatch(let type, let c):
            return ModelDecodingError(what: what, path: path(c.codingPath), reason: "expected \(type): \(c.debugDescription)")
        case .valueNotFound(let type, let c):
            return ModelDecodingError(what: what, path: path(c.codingPath), reason: "expected \(type), found null")
        case .keyNotFound(let key, let c):
            return ModelDecodingError(what: what, path: path(c.codingPath + [key]), reason: "required field missing")
        case .dataCorrupted(let c):
            return ModelDecodingError(what: what, path: path(c.codingPath), reason: "malformed: \(c.debugDescription)")
        @unknown default:
            return ModelDecodingError(what: what, path: "", reason: "\(error)")
        }
    }
}

/// A coding key for arbitrary JSON member names (Docker uses PascalCase, and one real key has a
/// leading space: `" Parents"`).
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension KeyedDecodingContainer where K == AnyKey {
    /// The value, or nil when the key is absent or null. A present value of the wrong type throws.
    func opt<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        let k = AnyKey(key)
        do {
            return try decodeIfPresent(T.self, forKey: k)
        } catch let error as DecodingError {
            throw error
        } catch {
            throw Self.located(error, at: codingPath + [k], type: T.self)
        }
    }

    func req<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        let k = AnyKey(key)
        do {
            return try decode(T.self, forKey: k)
        } catch let error as DecodingError {
            throw error
        } catch {
            throw Self.located(error, at: codingPath + [k], type: T.self)
        }
    }

    /// Foundation's JSONDecoder throws an internal error for a number that does not fit the
    /// requested type (`1.5` or `1e30` for an Int64), which reaches the caller as "not valid JSON"
    /// with no coding path. Catch it at the field and keep the path.
    private static func located<T>(_ error: any Error, at path: [any CodingKey], type: T.Type) -> DecodingError {
        .typeMismatch(
            T.self,
            DecodingError.Context(
                codingPath: path, debugDescription: "value does not fit \(T.self) (\(error))", underlyingError: error))
    }

    /// A Docker timestamp (RFC 3339); nil when absent, null, Go's zero time or unparsable.
    /// A present value that is not a string throws.
    func date(_ key: String) throws -> Date? {
        guard let text = try decodeIfPresent(String.self, forKey: AnyKey(key)) else { return nil }
        return DockerDate.parse(text)
    }

    /// Whether the key is present at all (null counts as present).
    func has(_ key: String) -> Bool { contains(AnyKey(key)) }
}
