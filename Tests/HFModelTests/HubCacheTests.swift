import Testing
import Foundation
import TestSupport
@testable import HFModel

/// A Hugging Face cache laid out as huggingface_hub writes it: blobs, refs/main and a snapshot of
/// symbolic links to the blobs.
struct SyntheticHubCache {
    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let older = "fedcba9876543210fedcba9876543210fedcba98"
    let hub: String

    /// `files` (name -> contents) under `models--ORG--NAME/snapshots/<commit>` for each commit.
    init(root: String, id: String, files: [String: String], refs: [String: String] = ["main": commit], commits: [String] = [commit]) throws {
        hub = (root as NSString).appendingPathComponent("hub")
        let fm = FileManager.default
        let repo = (hub as NSString).appendingPathComponent("models--" + id.replacingOccurrences(of: "/", with: "--"))
        try fm.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
        for (ref, c) in refs { try c.write(toFile: repo + "/refs/" + ref, atomically: true, encoding: .utf8) }
        for c in commits {
            let snap = repo + "/snapshots/" + c
            try fm.createDirectory(atPath: snap, withIntermediateDirectories: true)
            for (name, text) in files {
                let blob = "blob-\(c.prefix(6))-\(name)"
                try text.write(toFile: repo + "/blobs/" + blob, atomically: true, encoding: .utf8)
                try fm.createSymbolicLink(atPath: snap + "/" + name, withDestinationPath: "../../blobs/" + blob)
            }
        }
    }
}

@Suite("Hugging Face cache by model id")
struct HubCacheTests {
    @Test("the cache folder: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, ~/.cache")
    func cacheFolder() {
        let home = ["HOME": "/h"]
        #expect(HubCache.directory(environment: home).path == "/h/.cache/huggingface/hub")
        #expect(HubCache.directory(environment: home.merging(["XDG_CACHE_HOME": "/x"]) { $1 }).path == "/x/huggingface/hub")
        #expect(HubCache.directory(environment: home.merging(["XDG_CACHE_HOME": "/x", "HF_HOME": "~/hf"]) { $1 }).path == "/h/hf/hub")
        #expect(HubCache.directory(environment: home.merging(["HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/old"]) { $1 }).path == "/old")
        let all = home.merging(["HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/old", "HF_HUB_CACHE": "/new"]) { $1 }
        #expect(HubCache.directory(environment: all) == ("/new", "HF_HUB_CACHE"))
    }

    @Test("model ids: ORG/NAME only, huggingface_hub's characters")
    func ids() {
        for ok in ["HuggingFaceTB/SmolLM2-135M-Instruct", "meta-llama/Llama-3.2-1B", "a/b", "Qwen/Qwen2.5-0.5B_x"] {
            #expect(HubCache.looksLikeModelID(ok), "\(ok)")
        }
        for bad in ["gpt2", "a/b/c", "/abs/path", "./x", "a/", "/b", "a--b/c", "a/b..c", "a/-b", "a/b.git", "a b/c", "org/é"] {
            #expect(!HubCache.looksLikeModelID(bad), "\(bad)")
        }
        #expect(HubCache.repositoryFolder("HuggingFaceTB/SmolLM2-135M-Instruct") == "models--HuggingFaceTB--SmolLM2-135M-Instruct")
    }

    @Test("refs/main, a named ref and a commit hash lead to their snapshot; files are links to blobs")
    func resolve() throws {
        let tmp = TemporaryDirectory("hub")
        let c = try SyntheticHubCache(root: tmp.path, id: "Org/Model-1B", files: ["config.json": "{}"],
                                      refs: ["main": SyntheticHubCache.commit + "\n", "v1": SyntheticHubCache.older],
                                      commits: [SyntheticHubCache.commit, SyntheticHubCache.older])
        let env = ["HF_HUB_CACHE": c.hub]
        let main = try HubCache.snapshot(of: "Org/Model-1B", environment: env)
        #expect(main == c.hub + "/models--Org--Model-1B/snapshots/" + SyntheticHubCache.commit)
        #expect(try String(contentsOfFile: main + "/config.json", encoding: .utf8) == "{}")
        #expect(try HubCache.snapshot(of: "Org/Model-1B", revision: "v1", environment: env).hasSuffix(SyntheticHubCache.older))
        #expect(try HubCache.snapshot(of: "Org/Model-1B", revision: SyntheticHubCache.older, environment: env).hasSuffix(SyntheticHubCache.older))
        // HF_HOME/hub
        #expect(try HubCache.snapshot(of: "Org/Model-1B", environment: ["HF_HOME": tmp.path]) == main)
    }

    @Test("a model, revision or snapshot missing from the cache: the error names the paths looked at")
    func missing() throws {
        let tmp = TemporaryDirectory("hub")
        let c = try SyntheticHubCache(root: tmp.path, id: "Org/Model", files: ["config.json": "{}"])
        let env = ["HF_HUB_CACHE": c.hub]
        #expect { try HubCache.snapshot(of: "Org/Other", environment: env) } throws: { e in
            let s = "\(e)"
            return s.contains(c.hub + "/models--Org--Other") && s.contains("HF_HUB_CACHE") && s.contains("not in the Hugging Face cache")
        }
        #expect { try HubCache.snapshot(of: "Org/Model", revision: "dev", environment: env) } throws: { e in
            let s = "\(e)"
            return s.contains("/refs/dev") && s.contains(SyntheticHubCache.commit)
        }
        #expect { try HubCache.snapshot(of: "Org/Model", revision: SyntheticHubCache.older, environment: env) } throws: { e in
            "\(e)".contains("/snapshots/" + SyntheticHubCache.older)
        }
    }
}
