import Testing
@testable import Graph

struct DidYouMeanTests {
    @Test func suggestsCloseSpellingsAndMissingNamespaces() {
        let ops = ["image.blend", "image.resize", "sketch.edges", "label.colorize", "mix"]
        #expect(didYouMean("image.blnd", in: ops) == " (did you mean 'image.blend'?)")
        #expect(didYouMean("blend", in: ops) == " (did you mean 'image.blend'?)")
        #expect(didYouMean("foo.edges", in: ops) == " (did you mean 'sketch.edges'?)")
        #expect(didYouMean("frobnicate", in: ops) == "")
        #expect(didYouMean("", in: ops) == "")
    }
}
