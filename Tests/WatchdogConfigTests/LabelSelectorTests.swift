import Testing
import WatchdogConfig

/// One label-selector syntax for every policy, parsed when the configuration is read.
@Suite("Label selectors")
struct LabelSelectorTests {
    static let anyValue = ["k": "v"]
    static let emptyValue = ["k": ""]
    static let otherKey = ["other": "v"]

    @Test func keyMatchesAnyValueIncludingTheEmptyOne() throws {
        let s = try LabelSelector(parsing: "k")
        #expect(s.key == "k" && s.value == nil)
        #expect(s.matches(Self.anyValue) && s.matches(Self.emptyValue))
        #expect(!s.matches(Self.otherKey))
        #expect(s.description == "k")
    }

    @Test func keyEqualsValueMatchesExactlyThatValue() throws {
        let s = try LabelSelector(parsing: "k=v")
        #expect(s.matches(Self.anyValue))
        #expect(!s.matches(Self.emptyValue) && !s.matches(["k": "w"]) && !s.matches(Self.otherKey))
        #expect(try LabelSelector(parsing: "k=a=b").value == "a=b")
    }

    @Test func keyEqualsNothingMatchesOnlyTheEmptyValue() throws {
        let s = try LabelSelector(parsing: "k=")
        #expect(s.key == "k" && s.value == "")
        #expect(s.matches(Self.emptyValue))
        #expect(!s.matches(Self.anyValue))
        #expect(s.description == "k=")
    }

    @Test func emptySpecMatchesNothing() throws {
        let s = try LabelSelector(parsing: "")
        #expect(s.isNone && s == .none)
        #expect(!s.matches(Self.anyValue) && !s.matches([:]) && !s.matches(["": ""]))
    }

    @Test func anEmptyKeyIsRefused() {
        #expect(throws: LabelSelectorError.self) { try LabelSelector(parsing: "=v") }
        #expect(throws: LabelSelectorError.self) { try LabelSelector(parsing: "=") }
        #expect(throws: LabelSelectorError.self) { try LabelSelector(parsing: "a b=c") }
    }

    /// Refused when the configuration is read, naming the key and where it was set.
    @Test func aBadSelectorIsAConfigurationErrorNamingTheKey() {
        for key in ["remediation.protect_label", "remediation.autoheal.label", "remediation.disk.named_volume_label"] {
            let flag = "--" + key.replacing("_", with: "-")
            do {
                _ = try ConfigLoader.load(arguments: ["\(flag)==true"], environment: [:], registry: registry, readFile: { _ in "" })
                Issue.record("\(key): a selector with an empty key was accepted")
            } catch {
                #expect(error.key == key)
                #expect(error.source == "flag \(flag)")
                #expect(error.reason.contains("label key"))
            }
        }
    }

    @Test func theConfigurationHoldsParsedSelectors() throws {
        let command = try ConfigLoader.load(
            arguments: ["--remediation.protect-label=keep=", "--remediation.autoheal.label=heal"], environment: [:], registry: .core,
            readFile: { _ in "" })
        guard case .run(let c) = command else { Issue.record("expected a configuration"); return }
        #expect(c.remediation.protectLabel == (try LabelSelector(parsing: "keep=")))
        #expect(c.remediation.protectLabel.matches(["keep": ""]))
        #expect(!c.remediation.protectLabel.matches(["keep": "yes"]))
        #expect(c.remediation.autoheal.label.matches(["heal": "anything"]))
    }
}
