import Testing
@testable import HFModel
import GGUF

@Suite("SHA-256 and the chkhsh helpers")
struct SHA256Tests {
    @Test("FIPS 180-4 vectors and block boundaries (digests from Python's hashlib)") func vectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        var s = SHA256()
        for n in [1, 63, 64, 100, 200, 500, 72] { s.update([UInt8](repeating: 0x61, count: n)) }
        #expect(s.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test("chkhsh hashes Python's list repr") func listRepr() {
        #expect(HFTokenizer.pythonListRepr([1, 2, 3]) == "[1, 2, 3]")
        #expect(HFTokenizer.pythonListRepr([]) == "[]")
        #expect(HFTokenizer.chkhsh(ids: [1, 2, 3]) == "a36b1f2c3f84522dd1005145646617d7054c0851e97c72a039c0bdfac9fa07f3")
        #expect(HFTokenizer.chkhsh(ids: []) == "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")
    }

    @Test("chktxt is byte-exact with convert_hf_to_gguf.py b4748") func chktxt() {
        // 350 code points, 431 UTF-8 bytes; sha256 of the UTF-8 from the b4748 source via Python.
        #expect(HFTokenizer.chktxt.unicodeScalars.count == 350)
        #expect(HFTokenizer.chktxt.utf8.count == 431)
        #expect(SHA256.hex(HFTokenizer.chktxt.utf8) == "a36179c1e2b1cfcfbfad1dc779addad2ffc778201e4cf0d538bddeafa2c526da")
    }
}
